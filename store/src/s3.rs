//! S3 media storage ([`S3Media`]) through aws-sdk-s3: any S3-compatible server (SeaweedFS,
//! MinIO, AWS S3) with SigV4 credentials from the configuration.
//!
//! Uploads are S3 multipart uploads: chunk `n` is part `n + 1`. Browsers PUT parts to
//! presigned URLs that sign the part's `Content-Length` and `x-amz-checksum-sha256`, so
//! storage itself refuses a damaged or resized chunk and the bytes never pass through the
//! server. The parts S3 lists are the
//! record of what arrived.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, CorsConfiguration, CorsRule, Delete, ObjectIdentifier,
};
use base64::Engine;
use bytes::Bytes;
use tokio::io::AsyncRead;

use crate::media::{
    MediaError, MediaStore, PresignedPart, StoredPart, UploadTarget, check_key, content_type_of,
};
use crate::probe_copy::ProbeWindows;

/// S3 connection settings (`FERROTAPE_S3_*`). Setting a bucket selects S3 storage.
#[derive(Debug, Clone, clap::Args, Default)]
pub struct S3Args {
    /// S3 endpoint, for example `http://127.0.0.1:8333` (SeaweedFS, MinIO). Unset: AWS S3 in
    /// the region.
    #[arg(long, env = "FERROTAPE_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// The endpoint browsers reach for direct chunk uploads, when it differs from
    /// FERROTAPE_S3_ENDPOINT (an internal address behind a public name).
    #[arg(long, env = "FERROTAPE_S3_PUBLIC_ENDPOINT", value_name = "URL")]
    pub s3_public_endpoint: Option<String>,

    #[arg(
        long,
        env = "FERROTAPE_S3_REGION",
        value_name = "REGION",
        default_value = "us-east-1"
    )]
    pub s3_region: String,

    /// The bucket holding every media object. Created (with a CORS rule for direct uploads)
    /// when it does not exist.
    #[arg(long, env = "FERROTAPE_S3_BUCKET", value_name = "NAME")]
    pub s3_bucket: Option<String>,

    #[arg(
        long,
        env = "FERROTAPE_S3_ACCESS_KEY_ID",
        value_name = "ID",
        hide_env_values = true
    )]
    pub s3_access_key_id: Option<String>,

    #[arg(
        long,
        env = "FERROTAPE_S3_SECRET_ACCESS_KEY",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub s3_secret_access_key: Option<String>,

    /// Path-style URLs (`endpoint/bucket/key`), which S3-compatible servers need; `false` for
    /// virtual-hosted style (`bucket.endpoint/key`).
    #[arg(long, env = "FERROTAPE_S3_PATH_STYLE", value_name = "BOOL",
          default_value_t = true, action = clap::ArgAction::Set)]
    pub s3_path_style: bool,
}

/// S3 storage: one bucket, a client for the server's own requests and one for the URLs it
/// presigns for browsers (their endpoint may differ).
#[derive(Clone)]
pub struct S3Media {
    client: Client,
    presigner: Client,
    bucket: String,
}

impl std::fmt::Debug for S3Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Media")
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

/// One object read for `/media/…`, streamed to the client.
pub struct ObjectRead {
    /// 200, or 206 for a byte range.
    pub partial: bool,
    pub content_length: Option<u64>,
    pub content_range: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub body: Pin<Box<dyn AsyncRead + Send>>,
}

pub enum ReadOutcome {
    Object(ObjectRead),
    NotModified { etag: Option<String> },
    NotFound,
    RangeNotSatisfiable,
}

fn remote<E, R>(operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> MediaError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |err| {
        let message = match err.as_service_error() {
            Some(service) => format!(
                "{} ({})",
                service.message().unwrap_or("no message"),
                service.code().unwrap_or("no code")
            ),
            None => aws_sdk_s3::error::DisplayErrorContext(&err).to_string(),
        };
        MediaError::Remote { operation, message }
    }
}

/// A request the SDK's builders refuse to build (a missing required field: our bug).
fn invalid_request(err: aws_sdk_s3::error::BuildError) -> MediaError {
    MediaError::Config(err.to_string())
}

fn status_of<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    err.raw_response()
        .map(|response| response.status().as_u16())
}

impl S3Media {
    /// Builds the clients and checks the bucket, creating it when missing.
    pub async fn connect(args: &S3Args) -> Result<S3Media, MediaError> {
        let missing = |what: &str| MediaError::Config(format!("S3 storage needs {what}"));
        let bucket = args
            .s3_bucket
            .clone()
            .filter(|b| !b.trim().is_empty())
            .ok_or_else(|| missing("FERROTAPE_S3_BUCKET"))?;
        let key_id = args
            .s3_access_key_id
            .clone()
            .ok_or_else(|| missing("FERROTAPE_S3_ACCESS_KEY_ID"))?;
        let secret = args
            .s3_secret_access_key
            .clone()
            .ok_or_else(|| missing("FERROTAPE_S3_SECRET_ACCESS_KEY"))?;
        let credentials = Credentials::new(key_id, secret, None, None, "ferrotape-config");
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = |endpoint: Option<&String>| {
            let mut builder = aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(args.s3_region.clone()))
                .credentials_provider(credentials.clone())
                .force_path_style(args.s3_path_style)
                .http_client(http.clone())
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(5))
                        .build(),
                )
                // Checksums only where we ask for them: S3-compatible servers differ in the
                // trailing-checksum encodings they accept.
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
            if let Some(endpoint) = endpoint {
                builder = builder.endpoint_url(endpoint);
            }
            Client::from_conf(builder.build())
        };
        let media = S3Media {
            client: config(args.s3_endpoint.as_ref()),
            presigner: config(
                args.s3_public_endpoint
                    .as_ref()
                    .or(args.s3_endpoint.as_ref()),
            ),
            bucket,
        };
        media.ensure_bucket().await?;
        Ok(media)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn ensure_bucket(&self) -> Result<(), MediaError> {
        let head = self.client.head_bucket().bucket(&self.bucket).send().await;
        match head {
            Ok(_) => return Ok(()),
            Err(err) if status_of(&err) == Some(404) => {}
            Err(err) => return Err(remote("reach the bucket")(err)),
        }
        tracing::info!(bucket = self.bucket, "creating the media bucket");
        if let Err(err) = self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            // Another process may have created it meanwhile.
            let exists = err.as_service_error().is_some_and(|e| {
                e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
            });
            if !exists {
                return Err(remote("create the bucket")(err));
            }
        }
        // Browsers PUT chunks straight to the bucket from the site's origin.
        let rule = CorsRule::builder()
            .allowed_origins("*")
            .allowed_methods("PUT")
            .allowed_methods("GET")
            .allowed_headers("*")
            .expose_headers("ETag")
            .max_age_seconds(3600)
            .build()
            .map_err(invalid_request)?;
        let cors = CorsConfiguration::builder()
            .cors_rules(rule)
            .build()
            .map_err(invalid_request)?;
        self.client
            .put_bucket_cors()
            .bucket(&self.bucket)
            .cors_configuration(cors)
            .send()
            .await
            .map_err(remote("set the bucket's CORS rule"))?;
        Ok(())
    }

    fn multipart_id<'a>(&self, target: &'a UploadTarget) -> Result<&'a str, MediaError> {
        target.multipart_id.as_deref().ok_or_else(|| {
            MediaError::Config(format!(
                "the upload of `{}` has no S3 multipart upload (was it opened with local storage?)",
                target.key
            ))
        })
    }

    /// Reads `key` for a player: a byte range and `If-None-Match` are passed to S3.
    pub async fn read(
        &self,
        key: &str,
        range: Option<&str>,
        if_none_match: Option<&str>,
    ) -> Result<ReadOutcome, MediaError> {
        check_key(key)?;
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range.map(str::to_owned))
            .set_if_none_match(if_none_match.map(str::to_owned))
            .send()
            .await;
        let object = match result {
            Ok(object) => object,
            Err(err) => {
                return match status_of(&err) {
                    Some(304) => Ok(ReadOutcome::NotModified {
                        etag: err
                            .raw_response()
                            .and_then(|r| r.headers().get("etag").map(str::to_owned)),
                    }),
                    Some(404) => Ok(ReadOutcome::NotFound),
                    Some(416) => Ok(ReadOutcome::RangeNotSatisfiable),
                    _ => Err(remote("read an object")(err)),
                };
            }
        };
        Ok(ReadOutcome::Object(ObjectRead {
            partial: object.content_range().is_some(),
            content_length: object.content_length().and_then(|l| u64::try_from(l).ok()),
            content_range: object.content_range().map(str::to_owned),
            etag: object.e_tag().map(str::to_owned),
            last_modified: object
                .last_modified()
                .and_then(|t| t.fmt(aws_sdk_s3::primitives::DateTimeFormat::HttpDate).ok()),
            body: Box::pin(object.body.into_async_read()),
        }))
    }
}

#[async_trait]
impl MediaStore for S3Media {
    fn backend(&self) -> &'static str {
        "s3"
    }

    async fn start_upload(&self, key: &str) -> Result<Option<String>, MediaError> {
        check_key(key)?;
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(remote("start a multipart upload"))?;
        let id = created.upload_id().ok_or(MediaError::Remote {
            operation: "start a multipart upload",
            message: "no upload id in the answer".into(),
        })?;
        Ok(Some(id.to_owned()))
    }

    async fn write_part(
        &self,
        target: &UploadTarget,
        n: u32,
        bytes: Bytes,
        sha256: &[u8; 32],
    ) -> Result<(), MediaError> {
        let length = bytes.len() as i64;
        self.client
            .upload_part()
            .bucket(&self.bucket)
            .key(&target.key)
            .upload_id(self.multipart_id(target)?)
            .part_number(n as i32 + 1)
            .checksum_sha256(base64::engine::general_purpose::STANDARD.encode(sha256))
            .content_length(length)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|err| match status_of(&err) {
                // NoSuchUpload: `complete` joined the parts already.
                Some(404) => MediaError::NotFound(target.key.clone()),
                _ => remote("store a chunk")(err),
            })?;
        Ok(())
    }

    async fn presign_part(
        &self,
        target: &UploadTarget,
        n: u32,
        length: u64,
        sha256: &[u8; 32],
        valid_for: Duration,
    ) -> Result<Option<PresignedPart>, MediaError> {
        let config = PresigningConfig::expires_in(valid_for)
            .map_err(|e| MediaError::Config(e.to_string()))?;
        let request = self
            .presigner
            .upload_part()
            .bucket(&self.bucket)
            .key(&target.key)
            .upload_id(self.multipart_id(target)?)
            .part_number(n as i32 + 1)
            // Signed, so the bucket refuses a longer or shorter body: a URL handed out for one
            // chunk cannot store more than that chunk.
            .content_length(length as i64)
            .checksum_sha256(base64::engine::general_purpose::STANDARD.encode(sha256))
            .presigned(config)
            .await
            .map_err(remote("presign a chunk upload"))?;
        Ok(Some(PresignedPart {
            url: request.uri().to_owned(),
            headers: request
                .headers()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        }))
    }

    async fn listed_parts(
        &self,
        target: &UploadTarget,
    ) -> Result<Option<Vec<StoredPart>>, MediaError> {
        let upload_id = self.multipart_id(target)?;
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(&target.key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.take())
                .send()
                .await
                .map_err(remote("list an upload's chunks"))?;
            for part in page.parts() {
                let (Some(number), Some(size)) = (part.part_number(), part.size()) else {
                    continue;
                };
                if number >= 1 {
                    parts.push(StoredPart {
                        n: number as u32 - 1,
                        size: size.max(0) as u64,
                        etag: part.e_tag().map(str::to_owned),
                    });
                }
            }
            match (page.is_truncated(), page.next_part_number_marker()) {
                (Some(true), Some(next)) => marker = Some(next.to_owned()),
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.n);
        parts.dedup_by_key(|p| p.n);
        Ok(Some(parts))
    }

    async fn finish_upload(
        &self,
        target: &UploadTarget,
        parts: &[StoredPart],
    ) -> Result<u64, MediaError> {
        let completed: Vec<CompletedPart> = parts
            .iter()
            .map(|part| {
                CompletedPart::builder()
                    .part_number(part.n as i32 + 1)
                    .set_e_tag(part.etag.clone())
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&target.key)
            .upload_id(self.multipart_id(target)?)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(remote("join an upload's chunks"))?;
        self.object_size(&target.key)
            .await?
            .ok_or_else(|| MediaError::NotFound(target.key.clone()))
    }

    async fn abort_upload(&self, target: &UploadTarget) -> Result<(), MediaError> {
        let Some(upload_id) = target.multipart_id.as_deref() else {
            return Ok(());
        };
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&target.key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already completed or aborted.
            Err(err) if status_of(&err) == Some(404) => Ok(()),
            Err(err) => Err(remote("abort a multipart upload")(err)),
        }
    }

    async fn object_size(&self, key: &str) -> Result<Option<u64>, MediaError> {
        check_key(key)?;
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(head.content_length().unwrap_or(0).max(0) as u64)),
            Err(err) if status_of(&err) == Some(404) => Ok(None),
            Err(err) => Err(remote("look up an object")(err)),
        }
    }

    async fn put_file(&self, key: &str, file: &Path) -> Result<(), MediaError> {
        check_key(key)?;
        let body = ByteStream::from_path(file)
            .await
            .map_err(|e| MediaError::Io {
                path: file.to_owned(),
                source: std::io::Error::other(e.to_string()),
            })?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .set_content_type(content_type_of(key).map(str::to_owned))
            .body(body)
            .send()
            .await
            .map_err(remote("store a file"))?;
        Ok(())
    }

    async fn readable_path(&self, key: &str, scratch: &Path) -> Result<PathBuf, MediaError> {
        let ReadOutcome::Object(object) = self.read(key, None, None).await? else {
            return Err(MediaError::NotFound(key.to_owned()));
        };
        let name = key.rsplit('/').next().unwrap_or("object");
        let path = scratch.join(name);
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|source| MediaError::Io {
                path: path.clone(),
                source,
            })?;
        let mut body = object.body;
        tokio::io::copy(&mut body, &mut file)
            .await
            .map_err(|source| MediaError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(path)
    }

    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Bytes, MediaError> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        let range = format!("bytes={start}-{}", start + len - 1);
        match self.read(key, Some(&range), None).await? {
            ReadOutcome::Object(object) => {
                let mut body = object.body;
                let mut buffer = Vec::with_capacity(object.content_length.unwrap_or(len) as usize);
                tokio::io::AsyncReadExt::read_to_end(&mut body, &mut buffer)
                    .await
                    .map_err(|source| MediaError::Io {
                        path: PathBuf::from(key),
                        source,
                    })?;
                // A server ignoring the range sends everything: keep only what was asked.
                if !object.partial && start > 0 {
                    buffer.drain(..(start as usize).min(buffer.len()));
                }
                buffer.truncate(len as usize);
                Ok(Bytes::from(buffer))
            }
            ReadOutcome::RangeNotSatisfiable => Ok(Bytes::new()),
            ReadOutcome::NotFound | ReadOutcome::NotModified { .. } => {
                Err(MediaError::NotFound(key.to_owned()))
            }
        }
    }

    async fn probe_path(
        &self,
        key: &str,
        size: u64,
        scratch: &Path,
    ) -> Result<PathBuf, MediaError> {
        crate::probe_copy::sparse_copy(self, key, size, scratch, ProbeWindows::default()).await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), MediaError> {
        check_key(prefix)?;
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(format!("{prefix}/"))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(remote("list objects"))?;
            let objects: Vec<ObjectIdentifier> = page
                .contents()
                .iter()
                .filter_map(|object| {
                    ObjectIdentifier::builder()
                        .set_key(object.key.clone())
                        .build()
                        .ok()
                })
                .collect();
            if !objects.is_empty() {
                let delete = Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .map_err(invalid_request)?;
                self.client
                    .delete_objects()
                    .bucket(&self.bucket)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(remote("delete objects"))?;
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(()),
            }
        }
    }

    async fn delete_object(&self, key: &str) -> Result<(), MediaError> {
        check_key(key)?;
        // S3 answers a delete of a missing key with success too.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(remote("delete an object"))?;
        Ok(())
    }
}
