//! Where an IP address is, for the HTTP clients of the crate family that
//! send requests to addresses a server or a tenant chose (a token endpoint
//! from server metadata, a webhook receiver): they keep such requests off
//! the host's own network unless it is where they were pointed to begin with.

use std::net::IpAddr;

/// Where an address is, from the host's point of view; the order is from
/// the farthest to the nearest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Reach {
    /// On the public internet.
    Public,
    /// A private network: RFC 1918, shared address space (100.64.0.0/10),
    /// IPv6 unique-local (fc00::/7).
    Private,
    /// This machine: 127.0.0.0/8, ::1.
    Loopback,
    /// Never a destination: link-local (the cloud metadata address
    /// 169.254.169.254 among them), unspecified, broadcast, multicast,
    /// documentation ranges, 0.0.0.0/8.
    Reserved,
}

impl Reach {
    /// The reach of `ip` (an IPv4-mapped IPv6 address as its IPv4 one).
    ///
    /// ```
    /// use integrations_core::net::Reach;
    /// assert_eq!(Reach::of("93.184.216.34".parse().unwrap()), Reach::Public);
    /// assert_eq!(Reach::of("10.0.0.5".parse().unwrap()), Reach::Private);
    /// assert_eq!(Reach::of("::1".parse().unwrap()), Reach::Loopback);
    /// assert_eq!(Reach::of("169.254.169.254".parse().unwrap()), Reach::Reserved);
    /// ```
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => {
                let [a, b, ..] = v4.octets();
                if v4.is_loopback() {
                    Self::Loopback
                } else if v4.is_private() || (a == 100 && (64..128).contains(&b)) {
                    Self::Private
                } else if v4.is_link_local()
                    || v4.is_unspecified()
                    || v4.is_broadcast()
                    || v4.is_multicast()
                    || v4.is_documentation()
                    || a == 0
                {
                    Self::Reserved
                } else {
                    Self::Public
                }
            }
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return Self::of(IpAddr::V4(v4));
                }
                let first = v6.segments()[0];
                if v6.is_loopback() {
                    Self::Loopback
                } else if (first & 0xfe00) == 0xfc00 {
                    Self::Private
                } else if v6.is_unspecified() || v6.is_multicast() || (first & 0xffc0) == 0xfe80 {
                    Self::Reserved
                } else {
                    Self::Public
                }
            }
        }
    }

    /// The reach of a URL's host as written: an IP literal's, `Loopback`
    /// for `localhost` (and `*.localhost`), `None` for a name DNS decides.
    pub fn of_host(host: &str) -> Option<Self> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Some(Self::of(ip));
        }
        let lower = bare.to_ascii_lowercase();
        (lower == "localhost" || lower.ends_with(".localhost")).then_some(Self::Loopback)
    }

    /// Whether a request pointed at an address of this reach may reach one
    /// of `other`: never a reserved one, and no nearer than this (a public
    /// server's metadata may not send the host into its own network).
    pub fn allows(self, other: Self) -> bool {
        other != Self::Reserved && other <= self.max(Self::Public)
    }
}

#[cfg(test)]
mod tests {
    use super::Reach;

    #[test]
    fn a_destination_is_no_nearer_than_where_the_request_was_pointed() {
        use Reach::{Loopback, Private, Public, Reserved};
        assert!(Public.allows(Public));
        assert!(!Public.allows(Private) && !Public.allows(Loopback));
        assert!(Private.allows(Public) && Private.allows(Private) && !Private.allows(Loopback));
        assert!(Loopback.allows(Loopback) && Loopback.allows(Private));
        for base in [Public, Private, Loopback, Reserved] {
            assert!(!base.allows(Reserved), "{base:?}");
        }
        assert_eq!(Reach::of_host("[::1]"), Some(Loopback));
        assert_eq!(Reach::of_host("api.localhost"), Some(Loopback));
        assert_eq!(Reach::of_host("[::ffff:10.1.2.3]"), Some(Private));
        assert_eq!(Reach::of_host("example.com"), None);
    }
}
