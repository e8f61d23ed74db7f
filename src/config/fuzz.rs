//! Entry point for the fuzz target of the settings loader (`fuzz/`, cargo-fuzz) and for the test
//! that replays its corpus. Nothing in the product calls this.

/// A `pantau.toml`: the settings load, or each issue names its key and says what is wrong.
pub fn config_toml(bytes: &[u8]) {
    crate::store::fuzz::in_scratch(|dir| {
        let path = &dir.join("pantau.toml");
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write scratch file: {e}"));
        let overrides = super::Overrides {
            config: Some(path.to_path_buf()),
            ..Default::default()
        };
        if let Err(e) = super::Settings::load_from(&overrides, std::iter::empty()) {
            assert!(!e.issues.is_empty(), "refused without an issue");
            assert!(
                e.issues.iter().all(|i| !i.reason.trim().is_empty()),
                "an issue without a reason: {e}"
            );
        }
    })
}
