//! Entry points for the `cargo fuzz` targets in `fuzz/` (not an API): the fast path's request
//! and response framing, each run on arbitrary bytes with the invariants a proxy must keep
//! asserted, so that a broken invariant is a crash the fuzzer reports.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use zato_common::fuzzing::allowed;

use crate::fast::{Chunked, Framing, HeadParse, Parsed, Secure, parse_request, parse_response};
use crate::proxy::MONITOR_URI;

const MAX_HEADERS: usize = 128;

/// Hop-by-hop headers: none of them may reach the other side.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "transfer-encoding",
];

fn count(headers: &[httparse::Header<'_>], name: &str) -> usize {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .count()
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The load balancer's framing: the first byte picks the request parser, the response parser
/// or the chunked decoder; the rest is what the peer sent.
pub fn lb_framing(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 3 {
        0 => lb_request(sel, rest),
        1 => lb_response(sel, rest),
        _ => lb_chunked(rest),
    }
}

/// `parse_request` on a client's bytes. A forwarded request must come out as exactly one
/// complete HTTP/1.1 request: same method, target and body, at most one Content-Length and
/// that one the body's length, no Transfer-Encoding or other hop-by-hop header, one
/// X-Forwarded-For ending with the peer, and the fast path itself reading it the same way.
pub fn lb_request(flags: u8, buf: &[u8]) {
    let peer = if flags & 0x80 == 0 {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)), 5000)
    } else {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 5000)
    };
    let max_body = [0, 16, 1024, usize::MAX][usize::from((flags >> 3) & 3)];
    let secure = Secure {
        tls: flags & 0x20 != 0,
        client_subject: (flags & 0x40 != 0).then(|| "CN=client1,O=Zato".into()),
    };
    let parsed = parse_request(buf, peer, max_body, &secure);
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let original = req.parse(buf);
    // What is taken for one request's head must be that head, to httparse and to the search for
    // its end alike: bytes in between would be neither forwarded nor refused.
    if let (
        Ok(httparse::Status::Complete(n)),
        Parsed::Forward { .. }
        | Parsed::Monitor { .. }
        | Parsed::Metrics { .. }
        | Parsed::Partial { body: Some(_) },
    ) = (original, &parsed)
    {
        let framed = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
        if framed != Some(n) {
            if allowed("lb-bare-lf") {
                return;
            }
            panic!(
                "httparse ends the head at {n}, the fast path at {framed:?}: {:?}",
                show(buf)
            );
        }
    }
    match parsed {
        Parsed::Forward {
            out,
            idempotent,
            head,
            close: _,
            consumed,
        } => {
            assert!(
                consumed <= buf.len(),
                "consumed {consumed} of {}",
                buf.len()
            );
            let Ok(httparse::Status::Complete(head_end)) = original else {
                panic!("forwarded a request httparse does not read: {}", show(buf));
            };
            let method = req.method.unwrap_or_default();
            let path = req.path.unwrap_or_default();
            assert_eq!(req.version, Some(1));
            assert_ne!(path, MONITOR_URI);
            assert!(!crate::metrics::is_metrics(path));
            assert_eq!(head, method == "HEAD");
            assert_eq!(
                idempotent,
                matches!(
                    method,
                    "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE"
                )
            );
            assert_eq!(count(req.headers, "transfer-encoding"), 0);
            let in_body = &buf[head_end..consumed];
            assert!(in_body.len() <= max_body);

            let mut out_headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut fwd = httparse::Request::new(&mut out_headers);
            let out_head = match fwd.parse(&out) {
                Ok(httparse::Status::Complete(n)) => n,
                other => panic!(
                    "the forwarded request does not parse ({other:?}): {}",
                    show(&out)
                ),
            };
            let text = show(&out);
            assert_eq!(fwd.method, Some(method), "{text}");
            assert_eq!(fwd.path, Some(path), "{text}");
            assert_eq!(fwd.version, Some(1), "{text}");
            let out_body = &out[out_head..];
            assert_eq!(out_body, in_body, "the body changed: {text}");
            for h in HOP_BY_HOP {
                assert_eq!(count(fwd.headers, h), 0, "`{h}` forwarded: {text}");
            }
            let lengths: Vec<&[u8]> = fwd
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map(|h| h.value)
                .collect();
            match lengths.as_slice() {
                [] => assert!(
                    out_body.is_empty() && count(req.headers, "content-length") == 0,
                    "{text}"
                ),
                [one] => assert_eq!(
                    *one,
                    out_body.len().to_string().as_bytes(),
                    "Content-Length is not the body's length: {text}"
                ),
                _ => panic!("more than one Content-Length forwarded: {text}"),
            }
            assert_eq!(
                count(fwd.headers, "host"),
                count(req.headers, "host"),
                "{text}"
            );
            let xff: Vec<&[u8]> = fwd
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("x-forwarded-for"))
                .map(|h| h.value)
                .collect();
            assert_eq!(xff.len(), 1, "{text}");
            assert!(xff[0].ends_with(peer.ip().to_string().as_bytes()), "{text}");
            // Only the proxy says how the client connected: the client's own copies are gone.
            let tls = usize::from(secure.tls);
            assert_eq!(count(fwd.headers, "x-forwarded-proto"), tls, "{text}");
            let subject: Vec<&[u8]> = fwd
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("x-ssl-client-s-dn"))
                .map(|h| h.value)
                .collect();
            let want: Vec<&[u8]> = secure
                .client_subject
                .as_deref()
                .map(str::as_bytes)
                .into_iter()
                .collect();
            assert_eq!(subject, want, "{text}");
            assert_eq!(
                count(fwd.headers, "x-ssl-client-verify"),
                want.len(),
                "{text}"
            );
            for h in fwd.headers.iter() {
                let name = h.name.to_ascii_lowercase();
                assert!(
                    !name.starts_with("x-ssl-client-")
                        || name == "x-ssl-client-s-dn"
                        || name == "x-ssl-client-verify",
                    "{text}"
                );
            }
            // The server-bound bytes are one whole request to the fast path too (unless the
            // added headers took it past its header limits).
            match parse_request(&out, peer, max_body, &secure) {
                Parsed::Forward {
                    consumed: again, ..
                } => assert_eq!(again, out.len(), "{text}"),
                Parsed::Fallback if fwd.headers.len() > 100 => {}
                Parsed::Refuse(431, _) if out_head > 64 * 1024 => {}
                _ => panic!("the fast path does not forward its own output: {text}"),
            }
        }
        Parsed::Monitor { consumed, .. } => {
            assert!(consumed <= buf.len());
            assert_eq!(req.path, Some(MONITOR_URI));
        }
        Parsed::Metrics { consumed, .. } => {
            assert!(consumed <= buf.len());
            assert!(crate::metrics::is_metrics(req.path.unwrap_or_default()));
        }
        Parsed::Partial { body: None } => {
            assert!(
                !buf.windows(4).any(|w| w == b"\r\n\r\n"),
                "a complete head is partial: {}",
                show(buf)
            );
        }
        Parsed::Partial { body: Some(n) } => {
            let Ok(httparse::Status::Complete(head_end)) = original else {
                panic!("waits for a body of a head httparse does not read");
            };
            assert!(n <= max_body);
            assert!(buf.len() < head_end + n);
        }
        Parsed::Fallback => {}
        Parsed::Refuse(status, _) => {
            assert!(matches!(status, 400 | 413 | 431), "status {status}");
        }
    }
}

/// `parse_response` on a server's bytes: the head for the client must parse, carry no
/// hop-by-hop header but Transfer-Encoding, say `Connection: close` when the connection
/// ends after it; a chunked body is then fed to the decoder.
pub fn lb_response(flags: u8, buf: &[u8]) {
    let (head_request, client_close) = (flags & 0x40 != 0, flags & 0x80 != 0);
    let HeadParse::Done(head) = parse_response(buf, head_request, client_close) else {
        return;
    };
    assert!(head.head_len <= buf.len());
    let text = show(&head.out);
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(&head.out) {
        Ok(httparse::Status::Complete(n)) => assert_eq!(n, head.out.len(), "{text}"),
        other => panic!("the client-bound head does not parse ({other:?}): {text}"),
    }
    assert_eq!(resp.version, Some(1), "{text}");
    assert!(resp.code.is_some_and(|c| c >= 200), "{text}");
    for h in HOP_BY_HOP.iter().filter(|h| **h != "transfer-encoding") {
        let allowed = usize::from(*h == "connection");
        assert!(count(resp.headers, h) <= allowed, "`{h}` forwarded: {text}");
    }
    let says_close = resp.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("connection") && h.value.eq_ignore_ascii_case(b"close")
    });
    if client_close || matches!(head.framing, Framing::UntilClose) {
        assert!(says_close, "{text}");
    }
    if head_request {
        assert!(matches!(head.framing, Framing::Length(0)), "{text}");
    }
    if let Framing::Chunked(mut c) = head.framing {
        let body = &buf[head.head_len..];
        if let Some(n) = c.feed(body) {
            assert!(n <= body.len());
        }
    }
}

/// The chunked decoder: the whole body at once and the same bytes cut into pieces (where the
/// first bytes say) must end at the same place, or both be malformed.
pub fn lb_chunked(data: &[u8]) {
    let (cuts, body) = data.split_at(data.len().min(4));
    let mut whole = Chunked::start();
    let at_once = whole.feed(body);
    if let Some(n) = at_once {
        assert!(n <= body.len());
        assert!(whole.done() || n == body.len());
    }
    let mut pieces = Chunked::start();
    let mut total = 0usize;
    let mut failed = false;
    let mut rest = body;
    let mut cut = cuts.iter();
    while !rest.is_empty() && !pieces.done() {
        let len = match cut.next() {
            Some(&c) => usize::from(c).min(rest.len()),
            None => rest.len(),
        };
        let (piece, after) = rest.split_at(len);
        match pieces.feed(piece) {
            Some(n) => {
                assert!(n <= piece.len());
                total += n;
                assert!(pieces.done() || n == piece.len());
            }
            None => {
                failed = true;
                break;
            }
        }
        rest = after;
    }
    match at_once {
        None => assert!(failed, "malformed at once but not in pieces"),
        Some(n) => {
            assert!(!failed, "malformed in pieces but not at once");
            assert_eq!(n, total, "the pieces end elsewhere");
            assert_eq!(whole.done(), pieces.done());
        }
    }
}
