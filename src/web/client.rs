//! Who is asking, for throttles: the client's address as the limits count it.
//!
//! Behind a reverse proxy every connection comes from the proxy. With
//! `NATTER_TRUSTED_PROXIES` (CIDRs), a connection from one of them has its client read from
//! `X-Forwarded-For` (the rightmost address that is not itself a trusted proxy, since anything
//! to its left was written by the client) or, failing that, `Forwarded: for=`. A header from any
//! other peer is ignored: a client cannot name its own address. IPv6 clients are counted per
//! /64, the block one subscriber usually holds.

use std::net::{IpAddr, Ipv6Addr};

use axum::http::HeaderMap;

/// A block of addresses: `10.0.0.0/8`, `::1/128`, or one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Cidr { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address is the IPv4 address it maps.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address as throttles count it.
pub fn address(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> String {
    let peer = canonical(peer);
    let trusted_ip = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let mut client = peer;
    if trusted_ip(peer) {
        let forwarded_for: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        let from_forwarded = || {
            headers
                .get_all("forwarded")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split([',', ';']))
                .filter_map(|part| {
                    let (key, value) = part.trim().split_once('=')?;
                    if !key.eq_ignore_ascii_case("for") {
                        return None;
                    }
                    let value = value.trim_matches('"');
                    let value = value
                        .strip_prefix('[')
                        .map_or(value, |v| v.split(']').next().unwrap_or(v));
                    value.parse::<IpAddr>().ok().or_else(|| {
                        value
                            .rsplit_once(':')
                            .and_then(|(ip, _port)| ip.parse().ok())
                    })
                })
                .collect::<Vec<IpAddr>>()
        };
        let chain = if forwarded_for.is_empty() {
            from_forwarded()
        } else {
            forwarded_for
        };
        if let Some(first_untrusted) = chain
            .into_iter()
            .map(canonical)
            .rev()
            .find(|ip| !trusted_ip(*ip))
        {
            client = first_untrusted;
        }
    }
    match client {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & (u128::MAX << 64);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
        v4 => v4.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::{Cidr, address};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted = vec![
            Cidr::parse("10.0.0.0/8").unwrap(),
            Cidr::parse("::1").unwrap(),
        ];
        let via_proxy = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(
            address("10.1.2.3".parse().unwrap(), &via_proxy, &trusted),
            "203.0.113.9"
        );
        // The same header from anyone else is theirs to write: ignored.
        assert_eq!(
            address("198.51.100.7".parse().unwrap(), &via_proxy, &trusted),
            "198.51.100.7"
        );
        let forwarded = headers(&[("forwarded", r#"for="[2001:db8:cafe::17]:4711";proto=https"#)]);
        assert_eq!(
            address("::1".parse().unwrap(), &forwarded, &trusted),
            "2001:db8:cafe::/64"
        );
        assert_eq!(
            address("::ffff:10.0.0.1".parse().unwrap(), &headers(&[]), &trusted),
            "10.0.0.1"
        );
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("not an address").is_none());
    }
}
