//! A real S3 server for the storage tests, and the registry section that
//! points an entry at it.

use theory_conform::artifacts::server::{BUCKET, LocalS3};
use theory_conform::environment::Environment;
use theory_conform::registry::DocumentStorage;

/// The environment variables holding the store's credentials.
pub const KEY_ID_ENV: &str = "THEORY_TEST_S3_KEY_ID";
pub const SECRET_ENV: &str = "THEORY_TEST_S3_SECRET";
/// The credentials (the secret is a canary: it must appear in no output).
pub const KEY_ID: &str = "AKIATHEORYTEST000001";
pub const SECRET: &str = "theory-test-s3-secret-5c1e9a";
/// The reference processor's artifacts and index.
pub const PATHS: [&str; 4] = [
    "outputs.json",
    "parts/upper.txt",
    "stats.json",
    "summary.txt",
];

/// A running store over a temporary folder.
pub struct Store {
    pub server: LocalS3,
    pub root: tempfile::TempDir,
}

impl Store {
    /// Starts one; panics (the tests need it: `ci/storage-up` installs it).
    pub fn start() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let binary = Environment::process().s3s_fs();
        let server = LocalS3::start(&binary, root.path(), KEY_ID, SECRET)
            .unwrap_or_else(|e| panic!("the S3 server did not start: {e}"));
        Self { server, root }
    }

    /// The registry's `storage` section for this store.
    pub fn section(&self, max_bytes: Option<u64>) -> DocumentStorage {
        DocumentStorage {
            endpoint: self.server.endpoint.to_string(),
            bucket: BUCKET.to_owned(),
            region: None,
            access_key_env: KEY_ID_ENV.to_owned(),
            secret_key_env: SECRET_ENV.to_owned(),
            paths: PATHS.iter().map(|p| (*p).to_owned()).collect(),
            max_bytes,
        }
    }

    /// How many objects it holds.
    pub fn objects(&self) -> usize {
        fn count(dir: &std::path::Path) -> usize {
            std::fs::read_dir(dir).map_or(0, |entries| {
                entries
                    .flatten()
                    .map(|e| {
                        let path = e.path();
                        if path.is_dir() { count(&path) } else { 1 }
                    })
                    .sum()
            })
        }
        count(&self.root.path().join(BUCKET))
    }
}
