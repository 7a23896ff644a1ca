//! The `miniapp` command as a library: its commands, the terminal renderer views
//! are drawn with, and the terminal prompt the host's questions are asked at
//! (public so the fuzz targets and other front ends can use the renderer).

mod commands;
pub mod prompt;
pub mod terminal;

pub use commands::main;
