//! Any bytes as a rules file: the loader answers with compiled rules or errors at
//! file:line, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use triage::rules::{compile, ReadError, SourceFile};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let files = [SourceFile::new("fuzz.toml", text)];
    let read = |name: &str| -> Result<SourceFile, ReadError> {
        Err(ReadError::Missing(name.to_owned()))
    };
    if let Err(e) = compile(&files, read) {
        let shown = e.to_string();
        assert!(shown.contains("fuzz.toml"), "an error that names no file: {shown}");
    }
});
