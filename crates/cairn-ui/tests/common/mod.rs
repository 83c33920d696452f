//! A real cairn server with the UI on a free port, and a headless Debian chromium
//! driven over WebDriver (chromedriver), for the browser tests and the scale runs.

#![allow(
    unused_imports,
    reason = "shared by several test binaries, each using a part"
)]

pub use cairn_testkit::{Browser, TestServer};
