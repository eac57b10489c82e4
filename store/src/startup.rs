//! The first steps both binaries take, before any thread or runtime exists.

use clap::Parser;

use crate::config::{CommonArgs, load_config_file};
use crate::telemetry;

/// Loads the optional TOML config file into the environment, then parses the command line.
/// Bad input ends the process with status 2 and a message naming the setting.
pub fn parse_args<C: Parser>(program: &str) -> C {
    if let Err(err) = load_config_file(&C::command()) {
        eprintln!("{program}: {err}");
        std::process::exit(2);
    }
    // Parsed with a freshly built command: clap captures env values when a command is built,
    // and the file may just have added some.
    C::parse()
}

/// Installs logging as configured; an invalid filter ends the process with status 2.
pub fn init_logging(program: &str, common: &CommonArgs) {
    if let Err(err) = telemetry::init(common.log_format, &common.log) {
        eprintln!("{program}: {err}");
        std::process::exit(2);
    }
}
