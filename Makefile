# The two commands of the quick start. Everything else lives in scripts/.
.PHONY: run test

run:
	scripts/run.sh

test:
	scripts/test.sh
