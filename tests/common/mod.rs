pub mod pair;
pub mod peers;
pub mod redis;
