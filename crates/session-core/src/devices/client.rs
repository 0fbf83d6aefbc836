//! The client details a devices page may show: the `User-Agent` and the client's network,
//! cut down before they are stored, since both are personal data.

use std::net::IpAddr;

/// The longest `User-Agent` kept, in bytes: enough to tell browsers and devices apart,
/// short enough that a client cannot fill its record with it.
pub const MAX_USER_AGENT: usize = 256;

/// What an adapter hands core about the client (see [`crate::Session::present_client`]),
/// already cut down to what is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ClientInfo {
    pub(crate) user_agent: Option<String>,
    pub(crate) ip: Option<String>,
}

impl ClientInfo {
    pub(crate) fn new(user_agent: Option<&[u8]>, peer: Option<IpAddr>) -> Self {
        ClientInfo {
            user_agent: user_agent.and_then(truncate_user_agent),
            ip: peer.map(network),
        }
    }
}

/// The `User-Agent` as text of at most [`MAX_USER_AGENT`] bytes, cut on a character
/// boundary, without control characters (it is shown on a page and written to stores);
/// `None` when nothing is left.
fn truncate_user_agent(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len().min(MAX_USER_AGENT));
    for c in text.trim().chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_USER_AGENT {
            break;
        }
        out.push(c);
    }
    (!out.is_empty()).then_some(out)
}

/// The network of `ip`, not the address: an IPv4 /24 or an IPv6 /48, written with its
/// prefix (`203.0.113.0/24`, `2001:db8:1::/48`). Enough to tell "at home" from "abroad",
/// not enough to single out a household. An IPv4 address mapped into IPv6 counts as IPv4.
fn network(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
            format!("{net}/48")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_networks() {
        let cases = [
            ("203.0.113.77", "203.0.113.0/24"),
            ("::ffff:198.51.100.9", "198.51.100.0/24"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1::/48"),
            ("::1", "::/48"),
        ];
        for (ip, net) in cases {
            assert_eq!(network(ip.parse().unwrap()), net, "{ip}");
        }
    }

    #[test]
    fn user_agents_are_cut_on_a_character_boundary_without_controls() {
        assert_eq!(
            truncate_user_agent(b"  curl/8.0 \r\n"),
            Some("curl/8.0".into())
        );
        assert_eq!(truncate_user_agent(b"a\x00b\x1bc"), Some("abc".into()));
        assert_eq!(truncate_user_agent(b" \t "), None);
        let long = "é".repeat(200); // 400 bytes of two-byte characters
        let cut = truncate_user_agent(long.as_bytes()).unwrap();
        assert_eq!(cut.len(), MAX_USER_AGENT);
        assert!(cut.chars().all(|c| c == 'é'));
        let odd = format!("x{long}"); // the boundary falls inside a character
        let cut = truncate_user_agent(odd.as_bytes()).unwrap();
        assert_eq!(cut.len(), MAX_USER_AGENT - 1);
        assert_eq!(
            truncate_user_agent(b"\xff\xfeok"),
            Some("\u{fffd}\u{fffd}ok".into())
        );
    }
}
