pub mod pair;
pub mod peers;
pub mod redis;
pub mod sio_events;
