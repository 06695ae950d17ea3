pub mod pair;
pub mod peers;
pub mod sio_events;
