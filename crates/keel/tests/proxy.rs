//! Proxies: explicit ones (an HTTP CONNECT tunnel for https, forwarding for
//! http, with credentials), the environment's, and none.

mod common;

use common::{echo, TinyProxy};
use keel::HttpClient;
use keel_demo::DemoServer;

#[tokio::test]
async fn plain_http_goes_through_a_forwarding_proxy_with_its_credentials() {
    let server = DemoServer::start().await.unwrap();
    let proxy = TinyProxy::start();
    let proxy_url = format!("http://user:pa%24%24@{}", proxy.addr());
    let client = HttpClient::builder(format!("{}/echo", server.url()))
        .proxy(proxy_url)
        .build()
        .unwrap();
    let e = echo(&client.get("").query("q", "1").send().await.unwrap());
    assert_eq!(e["path"], "/echo");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (line, auth) = &seen[0];
    assert!(
        line.starts_with(&format!("GET {}/echo?q=1 HTTP/1.1", server.url())),
        "absolute-form to a forwarding proxy: {line}"
    );
    // user:pa$$ in Basic form.
    assert_eq!(auth.as_deref(), Some("Basic dXNlcjpwYSQk"));
    // The proxy's credentials are for the proxy: the server never sees them.
    assert!(common::header_values(&e, "proxy-authorization").is_empty());
}

#[tokio::test]
async fn https_goes_through_a_connect_tunnel_and_tls_is_end_to_end() {
    let server = DemoServer::start_tls().await.unwrap();
    let proxy = TinyProxy::start();
    let client = HttpClient::builder(format!("{}/echo", server.localhost_url()))
        .ca_pem(server.ca_pem())
        .proxy(proxy.url())
        .build()
        .unwrap();
    let e = echo(&client.get("").send().await.unwrap());
    // TLS runs end to end through the tunnel, ALPN included.
    assert_eq!(e["version"], "HTTP/2");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].0.starts_with(&format!(
            "CONNECT localhost:{} HTTP/1.1",
            server.addr().port()
        )),
        "{seen:?}"
    );
}

#[tokio::test]
async fn no_proxy_hosts_and_no_proxy_bypass_it() {
    let server = DemoServer::start().await.unwrap();
    let proxy = TinyProxy::start();
    let client = HttpClient::builder(format!("{}/echo", server.url()))
        .proxy_except(proxy.url(), "127.0.0.1")
        .build()
        .unwrap();
    echo(&client.get("").send().await.unwrap());
    let direct = HttpClient::builder(format!("{}/echo", server.url()))
        .no_proxy()
        .build()
        .unwrap();
    echo(&direct.get("").send().await.unwrap());
    assert!(proxy.seen().is_empty(), "{:?}", proxy.seen());
}

#[test]
fn the_environments_proxy_is_used_when_set() {
    // Run in a child process so the variable does not leak into other tests.
    if std::env::var_os("KEEL_PROXY_CHILD").is_none() {
        let server = DemoServer::start_background().unwrap();
        let proxy = TinyProxy::start();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "the_environments_proxy_is_used_when_set",
                "--nocapture",
            ])
            .env("KEEL_PROXY_CHILD", server.url())
            .env("HTTP_PROXY", proxy.url())
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(proxy.seen().len(), 1, "{:?}", proxy.seen());
        return;
    }
    let url = std::env::var("KEEL_PROXY_CHILD").unwrap();
    let client = HttpClient::new(format!("{url}/echo")).unwrap();
    echo(&client.get("").send_blocking().unwrap());
}

#[test]
fn a_bad_proxy_url_is_refused_at_build_time() {
    for bad in [
        "not a url",
        "socks5://127.0.0.1:1080",
        "https://proxy:3128",
        "http://",
    ] {
        match HttpClient::builder("http://127.0.0.1:1").proxy(bad).build() {
            Err(keel::Error::InvalidConfig(m)) => assert!(m.contains("proxy"), "{bad}: {m}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}
