pub mod pair;
pub mod peers;
