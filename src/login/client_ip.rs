//! The address a request comes from: the TCP peer, or, when the peer is a
//! trusted proxy, the right-most `X-Forwarded-For` entry that is not
//! itself a trusted proxy (each trusted proxy appends the address it was
//! reached from; entries left of the first untrusted one are the client's
//! to forge).

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The client address of `req`, canonical: an IPv4 client of a dual-stack
/// listener (`::ffff:a.b.c.d`) is its IPv4 address.
pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    if !from_trusted_proxy(req, trusted_proxies) {
        return Some(peer);
    }
    let hops: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    // From the right: through every trusted proxy of a chain, to the
    // address the first of them was reached from. A hop that does not
    // parse stops the walk at the proxy that wrote it.
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop.trim()).map(|ip| ip.to_canonical()) else {
            break;
        };
        client = ip;
        if !trusted_proxies.iter().any(|p| p.to_canonical() == ip) {
            break;
        }
    }
    Some(client)
}

/// Whether the TCP peer of `req` is one of the trusted proxies, whose
/// forwarding headers are believed.
pub fn from_trusted_proxy(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> bool {
    req.peer_addr().is_some_and(|peer| {
        let peer = peer.ip().to_canonical();
        trusted_proxies.iter().any(|p| p.to_canonical() == peer)
    })
}

/// The part of an address that one client holds whole, by which failures
/// are counted and locks are kept: an IPv4 address itself, an IPv6
/// address's /64 (one subscriber's network: RFC 6177 recommends giving a
/// site at least a /64, so one host can rotate through all of it).
pub fn address_bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        v4 @ IpAddr::V4(_) => v4,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
        }
    }
}

/// An address, with or without a port (`192.0.2.7:5000`, `[2001:db8::1]:5000`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn a_chain_of_trusted_proxies_is_walked_through() {
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        // client 192.0.2.7 -> a -> b -> authd: a appends the client's
        // address, b appends a's; 6.6.6.6 is the client's own forgery.
        let req = TestRequest::default()
            .peer_addr("10.0.0.2:4000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "6.6.6.6, 192.0.2.7, 10.0.0.1"))
            .to_http_request();
        assert_eq!(client_ip(&req, &[a, b]), "192.0.2.7".parse().ok());
        // Only b trusted: a's claim is not believed, a is the client.
        assert_eq!(client_ip(&req, &[b]), Some(a));
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:4000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "1.1.1.1, 192.0.2.7"))
            .to_http_request();
        assert_eq!(client_ip(&req, &[]), Some(proxy));
        assert_eq!(client_ip(&req, &[proxy]), "192.0.2.7".parse().ok());
        let garbage = TestRequest::default()
            .peer_addr("10.0.0.1:4000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "not an address"))
            .to_http_request();
        assert_eq!(client_ip(&garbage, &[proxy]), Some(proxy));
    }

    #[test]
    fn mapped_ipv4_is_ipv4_and_ports_are_dropped() {
        let req = TestRequest::default()
            .peer_addr("[::ffff:10.0.0.1]:4000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "192.0.2.7:5000"))
            .to_http_request();
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        assert_eq!(client_ip(&req, &[]), Some(proxy));
        assert_eq!(client_ip(&req, &[proxy]), "192.0.2.7".parse().ok());
    }
}
