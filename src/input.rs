//! Reading a document named on the command line (`FILE` or `-` for stdin),
//! bounded, and parsing it strictly.

use std::io::Read as _;
use std::path::PathBuf;

use theory_contract::canon::{self, Json};

/// The most bytes a document read from the command line may have.
pub const MAX_DOCUMENT: u64 = 64 * 1024 * 1024;

/// Where a document comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// Standard input (`-`, or nothing given).
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Source {
    /// `-` or nothing is stdin; anything else is a path.
    pub fn from_arg(arg: Option<PathBuf>) -> Self {
        match arg {
            Some(path) if path.as_os_str() != "-" => Self::File(path),
            Some(_) | None => Self::Stdin,
        }
    }

    /// The name used in messages: the path, or `<stdin>`.
    pub fn name(&self) -> String {
        match self {
            Self::Stdin => "<stdin>".to_owned(),
            Self::File(path) => path.display().to_string(),
        }
    }

    /// All bytes, at most [`MAX_DOCUMENT`].
    pub fn read(&self) -> Result<Vec<u8>, InputError> {
        let mut bytes = Vec::new();
        let read = match self {
            Self::Stdin => std::io::stdin()
                .lock()
                .take(MAX_DOCUMENT + 1)
                .read_to_end(&mut bytes),
            Self::File(path) => std::fs::File::open(path)
                .and_then(|f| f.take(MAX_DOCUMENT + 1).read_to_end(&mut bytes)),
        };
        read.map_err(|e| InputError::Unreadable {
            name: self.name(),
            reason: e.to_string(),
        })?;
        if bytes.len() as u64 > MAX_DOCUMENT {
            return Err(InputError::TooLarge { name: self.name() });
        }
        Ok(bytes)
    }

    /// The document, parsed strictly.
    pub fn parse(&self) -> Result<(Vec<u8>, Json), InputError> {
        let bytes = self.read()?;
        let json = canon::parse(&bytes).map_err(|e| InputError::Invalid {
            name: self.name(),
            error: e,
        })?;
        Ok((bytes, json))
    }
}

/// Why a document could not be used; every case exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Open or read failed.
    #[error("{name}: cannot read: {reason}")]
    Unreadable {
        /// File name or `<stdin>`.
        name: String,
        /// The OS error.
        reason: String,
    },
    /// More than [`MAX_DOCUMENT`] bytes.
    #[error("{name}: larger than {MAX_DOCUMENT} bytes")]
    TooLarge {
        /// File name or `<stdin>`.
        name: String,
    },
    /// Not strict JSON; the parse error names line and column.
    #[error("{name}:{error}")]
    Invalid {
        /// File name or `<stdin>`.
        name: String,
        /// Where and why.
        error: canon::ParseError,
    },
}
