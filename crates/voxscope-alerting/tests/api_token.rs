//! Where the write endpoints' bearer token comes from: the environment wins over
//! `[api] token_file`; the file is trimmed; an empty or missing file is an error naming it.

use voxscope_alerting::api::{ApiToken, TokenError};

fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("voxscope-{name}-{}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn the_token_file_is_read_and_trimmed() {
    let path = temp_file("token", "  from-file\n");
    let token = ApiToken::load(None, path.to_str().unwrap()).unwrap().unwrap();
    assert!(token.accepts("Bearer from-file"));
    assert!(token.accepts("bearer from-file"), "the scheme is case-insensitive");
    assert!(!token.accepts("Bearer  from-fil"));
    assert!(!token.accepts("from-file"));
    assert!(!token.accepts("Bearer"));
    std::fs::remove_file(path).unwrap();
}

#[test]
fn the_environment_wins_over_the_file_unless_empty() {
    let path = temp_file("token-env", "from-file");
    let file = path.to_str().unwrap();
    let token = ApiToken::load(Some("from-env".into()), file).unwrap().unwrap();
    assert!(token.accepts("Bearer from-env"));
    assert!(!token.accepts("Bearer from-file"));
    let token = ApiToken::load(Some(" ".into()), file).unwrap().unwrap();
    assert!(token.accepts("Bearer from-file"));
    std::fs::remove_file(path).unwrap();
}

#[test]
fn an_empty_or_missing_file_is_an_error_naming_it_and_no_config_is_no_token() {
    let path = temp_file("token-empty", "\n\t\n");
    let file = path.to_str().unwrap().to_owned();
    let err = ApiToken::load(None, &file).unwrap_err();
    assert!(matches!(&err, TokenError::Empty(p) if *p == file), "{err}");
    std::fs::remove_file(path).unwrap();
    let err = ApiToken::load(None, &file).unwrap_err();
    assert!(matches!(err, TokenError::Read { .. }));
    assert!(err.to_string().starts_with("api.token_file"), "{err}");
    assert!(ApiToken::load(None, "").unwrap().is_none());
}
