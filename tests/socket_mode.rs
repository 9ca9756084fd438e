//! The unix socket as bound with the default configuration: mode 0660,
//! never writable by other users, who could otherwise feed the milter
//! forged commands or occupy its connection slots.

use pitchfork::{
    config::{Config, SocketSpec},
    listener,
};
use std::os::unix::fs::PermissionsExt;

#[tokio::test]
async fn the_default_unix_socket_is_not_world_writable() {
    let config = Config::parse("").unwrap();
    assert_eq!(config.socket_mode, 0o660);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("milter.sock");
    let spec = SocketSpec::Unix(path.clone());
    let _bound = listener::bind(&spec, config.socket_mode).await.unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660, "{mode:o}");
    assert_eq!(mode & 0o002, 0, "world-writable");
}
