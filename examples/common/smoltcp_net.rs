//! The virtual network of the smoltcp examples (`smoltcp_ws.rs`,
//! `smoltcp_socketio.rs`): smoltcp's loopback interface at 127.0.0.1 and its
//! TCP sockets, on a virtual clock in milliseconds. Each example adds how it
//! polls the interface and how its clock moves.

// Each example uses its own part of it.
#![allow(dead_code)]

use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

use sockwire::time::Instant;

/// The interface, its loopback device, its sockets and the virtual clock.
pub struct Net {
    pub now_ms: u64,
    pub device: Loopback,
    pub iface: Interface,
    pub sockets: SocketSet<'static>,
}

impl Net {
    /// An interface at 127.0.0.1/8 with no sockets, at time 0.
    pub fn new() -> Net {
        let mut device = Loopback::new(Medium::Ip);
        let config = IfaceConfig::new(HardwareAddress::Ip);
        let mut iface = Interface::new(config, &mut device, smoltcp::time::Instant::from_millis(0));
        iface.update_ip_addrs(|addrs| {
            addrs
                .push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8))
                .unwrap();
        });
        Net {
            now_ms: 0,
            device,
            iface,
            sockets: SocketSet::new(Vec::new()),
        }
    }

    /// A TCP socket with `buf`-byte receive and transmit rings.
    pub fn add_socket(&mut self, buf: usize) -> SocketHandle {
        // A firmware would use static arrays here; any `ManagedSlice` works.
        let rx = tcp::SocketBuffer::new(vec![0; buf]);
        let tx = tcp::SocketBuffer::new(vec![0; buf]);
        self.sockets.add(tcp::Socket::new(rx, tx))
    }

    /// The socket `h`.
    pub fn sock(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    /// smoltcp's clock.
    pub fn net_now(&self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_millis(self.now_ms as i64)
    }

    /// sockwire's clock: the same milliseconds.
    pub fn now(&self) -> Instant {
        Instant::from_millis(self.now_ms)
    }

    /// Milliseconds until smoltcp's next timer (a retransmission, a delayed
    /// ACK), if any.
    pub fn poll_delay_ms(&mut self) -> Option<u64> {
        self.iface
            .poll_delay(self.net_now(), &self.sockets)
            .map(|d| d.total_millis())
    }
}
