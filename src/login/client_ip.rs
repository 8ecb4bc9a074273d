//! The address a request comes from: the TCP peer, or, when the peer is a
//! trusted proxy, the right-most `X-Forwarded-For` entry (the one that
//! proxy added; entries left of it are the client's to forge).

use std::net::IpAddr;

use actix_web::HttpRequest;

/// The client address of `req`.
pub fn client_ip(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .and_then(|last| last.trim().parse().ok());
    Some(forwarded.unwrap_or(peer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

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
}
