//! Both media backends keep the same promises: local files, and S3 against the SeaweedFS server
//! that `make test` starts (`FERROTAPE_TEST_S3_*`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use ferrotape_store::media::{LocalMedia, MediaError, MediaStore, StoredPart, UploadTarget};
use ferrotape_store::s3::{ReadOutcome, S3Args, S3Media};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

/// S3 refuses parts under 5 MiB except the last.
const FIRST_PART: usize = 5 * 1024 * 1024;

fn sha(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn s3_args(bucket: &str) -> S3Args {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!(
                "{name} is not set: run the tests through `make test`, which starts an S3 server"
            )
        })
    };
    S3Args {
        s3_endpoint: Some(var("FERROTAPE_TEST_S3_ENDPOINT")),
        s3_public_endpoint: None,
        s3_region: "us-east-1".into(),
        s3_bucket: Some(bucket.into()),
        s3_access_key_id: Some(var("FERROTAPE_TEST_S3_ACCESS_KEY_ID")),
        s3_secret_access_key: Some(var("FERROTAPE_TEST_S3_SECRET_ACCESS_KEY")),
        s3_path_style: true,
    }
}

/// The tests' shared bucket (created by the first `connect`) and a key prefix of this test's
/// own. A first write warms the bucket up: SeaweedFS may answer 500 while it grows storage for
/// a new bucket, which the SDK retries but a bare curl request would not.
async fn s3() -> (S3Media, String) {
    let media = S3Media::connect(&s3_args("ferrotape-tests")).await.unwrap();
    let prefix = format!("run-{}", uuid::Uuid::new_v4().simple());
    let scratch = tempfile::tempdir().unwrap();
    let warm_up = scratch.path().join("warm-up");
    std::fs::write(&warm_up, b"warm").unwrap();
    media
        .put_file(&format!("{prefix}/warm-up"), &warm_up)
        .await
        .unwrap();
    (media, prefix)
}

async fn target(media: &dyn MediaStore, prefix: &str) -> UploadTarget {
    let key = format!("{prefix}/source/original.mp4");
    UploadTarget {
        multipart_id: media.start_upload(&key).await.unwrap(),
        key,
        parts_prefix: format!("{prefix}/upload"),
        chunk_size: FIRST_PART as u64,
    }
}

/// What storage holds, from its own list (S3) or as the database would have recorded it.
async fn parts_of(media: &dyn MediaStore, target: &UploadTarget, sizes: &[u64]) -> Vec<StoredPart> {
    match media.listed_parts(target).await.unwrap() {
        Some(listed) => {
            let found: Vec<(u32, u64)> = listed.iter().map(|p| (p.n, p.size)).collect();
            let expected: Vec<(u32, u64)> = sizes
                .iter()
                .enumerate()
                .map(|(n, s)| (n as u32, *s))
                .collect();
            assert_eq!(found, expected, "parts listed by storage");
            listed
        }
        None => sizes
            .iter()
            .enumerate()
            .map(|(n, size)| StoredPart {
                n: n as u32,
                size: *size,
                etag: None,
            })
            .collect(),
    }
}

async fn chunks_join_in_order_and_outputs_round_trip(media: &dyn MediaStore, prefix: &str) {
    let target = target(media, prefix).await;
    let first = Bytes::from(vec![7u8; FIRST_PART]);
    let last = Bytes::from_static(b"the end");
    // Out of order, and chunk 1 sent twice (a retry after a lost answer).
    media
        .write_part(&target, 1, last.clone(), &sha(&last))
        .await
        .unwrap();
    media
        .write_part(&target, 0, first.clone(), &sha(&first))
        .await
        .unwrap();
    media
        .write_part(&target, 1, last.clone(), &sha(&last))
        .await
        .unwrap();
    let parts = parts_of(media, &target, &[FIRST_PART as u64, last.len() as u64]).await;
    let size = media.finish_upload(&target, &parts).await.unwrap();
    assert_eq!(size, (FIRST_PART + last.len()) as u64);

    let scratch = tempfile::tempdir().unwrap();
    let source = media
        .readable_path(&target.key, scratch.path())
        .await
        .unwrap();
    let joined = std::fs::read(&source).unwrap();
    assert_eq!(joined.len(), FIRST_PART + last.len());
    assert!(joined[..FIRST_PART].iter().all(|b| *b == 7));
    assert!(joined.ends_with(b"the end"));

    let output = scratch.path().join("seg_0.m4s");
    std::fs::write(&output, b"a segment").unwrap();
    let output_key = format!("{prefix}/hls/720p/seg_0.m4s");
    media.put_file(&output_key, &output).await.unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let read_back = media
        .readable_path(&output_key, elsewhere.path())
        .await
        .unwrap();
    assert_eq!(std::fs::read(read_back).unwrap(), b"a segment");

    media.delete_prefix(prefix).await.unwrap();
    for key in [&target.key, &output_key] {
        let gone = media.readable_path(key, elsewhere.path()).await;
        assert!(
            matches!(gone, Err(MediaError::NotFound(_))),
            "{key}: {gone:?}"
        );
    }
    // Deleting what is already gone is fine.
    media.delete_prefix(prefix).await.unwrap();
}

async fn an_upload_missing_a_chunk_does_not_finish(media: &dyn MediaStore, prefix: &str) {
    let target = target(media, prefix).await;
    let first = Bytes::from(vec![1u8; FIRST_PART]);
    media
        .write_part(&target, 0, first.clone(), &sha(&first))
        .await
        .unwrap();
    let claimed = [
        StoredPart {
            n: 0,
            size: FIRST_PART as u64,
            etag: parts_of(media, &target, &[FIRST_PART as u64]).await[0]
                .etag
                .clone(),
        },
        StoredPart {
            n: 1,
            size: 10,
            etag: Some("\"0123456789abcdef0123456789abcdef\"".into()),
        },
    ];
    let finished = media.finish_upload(&target, &claimed).await;
    assert!(finished.is_err(), "{finished:?}");
    let scratch = tempfile::tempdir().unwrap();
    let source = media.readable_path(&target.key, scratch.path()).await;
    assert!(matches!(source, Err(MediaError::NotFound(_))), "{source:?}");
    media.abort_upload(&target).await.unwrap();
    // Twice (a retried cleanup) is fine.
    media.abort_upload(&target).await.unwrap();
}

#[tokio::test]
async fn local_storage_joins_chunks_and_round_trips_outputs() {
    let root = tempfile::tempdir().unwrap();
    let media = LocalMedia::open(root.path()).unwrap();
    chunks_join_in_order_and_outputs_round_trip(&media, "tenant/video-1").await;
    assert!(
        !root.path().join("tenant/video-1/upload").exists(),
        "chunks removed once joined"
    );
}

#[tokio::test]
async fn local_storage_refuses_to_finish_with_a_missing_chunk() {
    let root = tempfile::tempdir().unwrap();
    let media = LocalMedia::open(root.path()).unwrap();
    an_upload_missing_a_chunk_does_not_finish(&media, "tenant/video-2").await;
    assert!(
        !root.path().join("tenant/video-2/upload").exists(),
        "abort removes the chunks"
    );
}

#[tokio::test]
async fn s3_storage_joins_chunks_and_round_trips_outputs() {
    let (media, prefix) = s3().await;
    chunks_join_in_order_and_outputs_round_trip(&media, &prefix).await;
}

#[tokio::test]
async fn s3_storage_refuses_to_finish_with_a_missing_chunk() {
    let (media, prefix) = s3().await;
    an_upload_missing_a_chunk_does_not_finish(&media, &prefix).await;
}

/// PUTs `body` to a presigned URL with curl, as a browser would; returns the HTTP status.
fn put(url: &str, headers: &[(String, String)], body: &Path) -> u16 {
    let mut command = Command::new("curl");
    command.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "PUT",
        "--data-binary",
    ]);
    command.arg(format!("@{}", body.display()));
    for (name, value) in headers {
        command.args(["-H", &format!("{name}: {value}")]);
    }
    let output = command.arg(url).output().expect("curl runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_presigned_chunk_url_takes_only_the_chunk_it_was_signed_for() {
    let (media, prefix) = s3().await;
    let target = target(&media, &prefix).await;
    let chunk = vec![3u8; FIRST_PART];
    let scratch = tempfile::tempdir().unwrap();
    let good = scratch.path().join("good");
    std::fs::write(&good, &chunk).unwrap();
    let damaged = scratch.path().join("damaged");
    let mut bytes = chunk.clone();
    bytes[1000] ^= 1;
    std::fs::write(&damaged, &bytes).unwrap();

    let longer = scratch.path().join("longer");
    std::fs::write(&longer, [chunk.as_slice(), b"more"].concat()).unwrap();
    let shorter = scratch.path().join("shorter");
    std::fs::write(&shorter, &chunk[..FIRST_PART - 1]).unwrap();

    let presigned = media
        .presign_part(
            &target,
            0,
            FIRST_PART as u64,
            &sha(&chunk),
            Duration::from_secs(600),
        )
        .await
        .unwrap()
        .expect("S3 presigns");
    assert!(
        presigned.url.contains("X-Amz-Signature="),
        "{}",
        presigned.url
    );
    let signed = presigned
        .url
        .split_once("X-Amz-SignedHeaders=")
        .map(|(_, rest)| rest.split('&').next().unwrap_or_default().to_owned())
        .unwrap_or_default();
    assert!(
        signed.split("%3B").any(|h| h == "content-length"),
        "the part length is signed: {signed}"
    );
    assert_eq!(
        put(&presigned.url, &presigned.headers, &damaged),
        400,
        "a damaged chunk is refused"
    );
    // A body of another length is refused by its signature, before any checksum is computed
    // (the bucket reads no byte of it): a chunk URL cannot store more than its chunk.
    for (body, what) in [(&longer, "a longer body"), (&shorter, "a shorter body")] {
        let length = std::fs::metadata(body).unwrap().len();
        let headers: Vec<(String, String)> = presigned
            .headers
            .iter()
            .map(|(name, value)| match name.as_str() {
                "content-length" => (name.clone(), length.to_string()),
                _ => (name.clone(), value.clone()),
            })
            .collect();
        assert_eq!(put(&presigned.url, &headers, body), 403, "{what}");
    }
    assert_eq!(media.listed_parts(&target).await.unwrap(), Some(vec![]));
    // Without the signed checksum header the signature does not match.
    assert_eq!(put(&presigned.url, &[], &good), 403);
    assert_eq!(put(&presigned.url, &presigned.headers, &good), 200);
    let listed = media.listed_parts(&target).await.unwrap().unwrap();
    assert_eq!(
        listed.iter().map(|p| (p.n, p.size)).collect::<Vec<_>>(),
        vec![(0, FIRST_PART as u64)]
    );

    let short_lived = media
        .presign_part(&target, 1, 1, &sha(b"x"), Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let late = scratch.path().join("late");
    std::fs::write(&late, b"x").unwrap();
    assert_eq!(
        put(&short_lived.url, &short_lived.headers, &late),
        403,
        "an expired URL is refused"
    );
    media.abort_upload(&target).await.unwrap();
}

#[tokio::test]
async fn s3_reads_serve_ranges_and_revalidation() {
    let (media, prefix) = s3().await;
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("seg.m4s");
    std::fs::write(&file, b"0123456789").unwrap();
    let key = &format!("{prefix}/hls/360p/seg_0.m4s");
    media.put_file(key, &file).await.unwrap();

    let ReadOutcome::Object(mut whole) = media.read(key, None, None).await.unwrap() else {
        panic!("the object exists");
    };
    assert!(!whole.partial);
    assert_eq!(whole.content_length, Some(10));
    let etag = whole.etag.clone().expect("S3 sends an ETag");
    let mut body = Vec::new();
    whole.body.read_to_end(&mut body).await.unwrap();
    assert_eq!(body, b"0123456789");

    let ReadOutcome::Object(mut range) = media.read(key, Some("bytes=2-4"), None).await.unwrap()
    else {
        panic!("the object exists");
    };
    assert!(range.partial);
    assert_eq!(range.content_range.as_deref(), Some("bytes 2-4/10"));
    let mut body = Vec::new();
    range.body.read_to_end(&mut body).await.unwrap();
    assert_eq!(body, b"234");

    assert!(matches!(
        media.read(key, None, Some(&etag)).await.unwrap(),
        ReadOutcome::NotModified { .. }
    ));
    assert!(matches!(
        media.read(key, Some("bytes=50-60"), None).await.unwrap(),
        ReadOutcome::RangeNotSatisfiable
    ));
    assert!(matches!(
        media
            .read(&format!("{prefix}/hls/none.m4s"), None, None)
            .await
            .unwrap(),
        ReadOutcome::NotFound
    ));
    assert!(matches!(
        media.read("../escape", None, None).await,
        Err(MediaError::InvalidKey(_))
    ));
}

#[tokio::test]
async fn s3_misconfiguration_is_reported_clearly() {
    let mut args = s3_args("ft-misconfigured");
    args.s3_secret_access_key = Some("not the secret".into());
    let err = S3Media::connect(&args).await.unwrap_err().to_string();
    assert!(err.contains("reach the bucket"), "{err}");

    let mut args = s3_args("ft-misconfigured");
    args.s3_bucket = None;
    let err = S3Media::connect(&args).await.unwrap_err().to_string();
    assert!(err.contains("FERROTAPE_S3_BUCKET"), "{err}");

    let mut args = s3_args("ft-misconfigured");
    args.s3_endpoint = Some("http://127.0.0.1:9".into());
    let err = S3Media::connect(&args).await.unwrap_err().to_string();
    assert!(err.contains("reach the bucket"), "{err}");
}
