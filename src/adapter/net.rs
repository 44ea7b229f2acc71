//! What every transport shares: the one TLS client configuration (rustls
//! with `ring`, public roots plus an optional CA file), URL building with
//! the `url` crate, loggable URLs, and the DNS check.
//!
//! **Invariant:** URLs are built with `Url::join` and `Url::set_scheme`,
//! never by formatting strings; a logged URL carries no userinfo, query or
//! fragment.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use tokio::time::Instant;
use url::Url;

use super::{AdapterError, Transport};

/// Makes `ring` the process-wide TLS provider (once; later calls do
/// nothing), so no client the harness builds can pick another one.
pub(crate) fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The TLS configuration for WS and HTTP alike: `ring` provider, safe
/// default versions, webpki roots plus every certificate in `ca_file`,
/// ALPN `http/1.1` only.
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, AdapterError> {
    install_tls_provider();
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let error = |detail: String| AdapterError::CaFile {
            path: path.display().to_string(),
            detail,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| error(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| error(e.to_string()))?;
        if certs.is_empty() {
            return Err(error("no PEM certificate in it".to_owned()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| error(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AdapterError::CaFile {
            path: ca_file.map(|p| p.display().to_string()).unwrap_or_default(),
            detail: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Why [`clients`] failed.
pub(crate) enum ClientsError {
    /// The CA file.
    Adapter(AdapterError),
    /// The HTTP client could not be built.
    Http(String),
}

/// The TLS configuration and HTTP client for endpoints trusting `ca_file`
/// (and the web's roots): built once per CA file content and shared by
/// every endpoint, so a lane with many processors keeps one of each, not
/// one per processor. Connections are not pooled (each request has its own,
/// as a processor sees a fresh client).
pub(crate) fn clients(
    ca_file: Option<&Path>,
) -> Result<(Arc<ClientConfig>, reqwest::Client), ClientsError> {
    type Cache = Mutex<BTreeMap<Option<Vec<u8>>, (Arc<ClientConfig>, reqwest::Client)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    // Keyed by the file's bytes: a CA file rewritten in place is read anew.
    let key = ca_file.map(|path| std::fs::read(path).unwrap_or_default());
    let cache = CACHE.get_or_init(Cache::default);
    if let Some(found) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return Ok(found.clone());
    }
    let tls = client_config(ca_file).map_err(ClientsError::Adapter)?;
    let http = reqwest::Client::builder()
        .use_preconfigured_tls((*tls).clone())
        .tcp_nodelay(true)
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|e| ClientsError::Http(format!("http client: {}", chain(&e))))?;
    let built = (tls, http);
    cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(key, built.clone());
    Ok(built)
}

/// A base URL as endpoints keep it: `http` or `https` (a `ws`/`wss` URL is
/// mapped), with a host, a path ending in `/`, no query, no fragment.
pub(crate) fn base_url(url: &Url) -> Result<Url, AdapterError> {
    let invalid = |reason: &str| AdapterError::InvalidUrl {
        url: loggable(url),
        reason: reason.to_owned(),
    };
    let mut base = url.clone();
    let scheme = match url.scheme() {
        "http" | "ws" => "http",
        "https" | "wss" => "https",
        _ => return Err(invalid("scheme must be http, https, ws or wss")),
    };
    base.set_scheme(scheme)
        .map_err(|()| invalid("cannot change its scheme"))?;
    if base.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    base.set_query(None);
    base.set_fragment(None);
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base)
}

/// `base` joined with `path`, in the scheme `transport` speaks (`ws`/`wss`
/// for WebSocket).
pub(crate) fn endpoint_url(
    base: &Url,
    path: &str,
    transport: Transport,
) -> Result<Url, AdapterError> {
    let mut url = base.join(path).map_err(|e| AdapterError::InvalidUrl {
        url: loggable(base),
        reason: format!("cannot join {path:?}: {e}"),
    })?;
    if transport == Transport::Ws {
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|()| AdapterError::InvalidUrl {
                url: loggable(base),
                reason: format!("cannot use scheme {scheme}"),
            })?;
    }
    Ok(url)
}

/// `url` without userinfo, query or fragment: safe to log and report.
pub(crate) fn loggable(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    crate::redact::text(shown.as_str())
}

/// Checks that the URL's host resolves, within `deadline`.
pub(crate) async fn check_resolves(url: &Url, deadline: Instant) -> Result<(), AdapterError> {
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let unresolvable = |detail: String| AdapterError::Unresolvable {
        host: host.clone(),
        detail,
    };
    // IP literals (and `[v6]`) need no lookup.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    // RFC 6761 §6.4: `.invalid` never resolves, and a resolver API should
    // say so at once; some resolvers first wait on the network.
    if is_invalid_tld(bare) {
        return Err(unresolvable(
            "the .invalid domain never resolves (RFC 6761)".to_owned(),
        ));
    }
    match tokio::time::timeout_at(deadline, tokio::net::lookup_host((bare, port))).await {
        Err(_) => Err(unresolvable("no answer within the budget".to_owned())),
        Ok(Err(e)) => Err(unresolvable(e.to_string())),
        Ok(Ok(mut addrs)) => match addrs.next() {
            Some(_) => Ok(()),
            None => Err(unresolvable("no address".to_owned())),
        },
    }
}

/// Whether `host` is in the reserved `.invalid` top-level domain.
fn is_invalid_tld(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "invalid" || host.ends_with(".invalid")
}

/// Milliseconds of a duration, saturated.
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The error and its sources, joined with `: ` (what `{e:#}` would show).
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    crate::redact::text(&text)
}

/// Whether a rustls error is somewhere in the chain.
pub(crate) fn is_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    if error.is::<rustls::Error>() {
        return true;
    }
    // `io::Error` and boxed errors hide their payload from `source()`.
    if let Some(io) = error.downcast_ref::<std::io::Error>()
        && let Some(inner) = io.get_ref()
        && is_tls(inner)
    {
        return true;
    }
    error.source().is_some_and(is_tls)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn base_urls_are_http_with_a_trailing_slash_and_no_query() {
        let base = base_url(&Url::parse("wss://u:p@h.example/app?token=x#f").unwrap()).unwrap();
        assert_eq!(base.as_str(), "https://u:p@h.example/app/");
        let base = base_url(&Url::parse("ws://127.0.0.1:8000").unwrap()).unwrap();
        assert_eq!(base.as_str(), "http://127.0.0.1:8000/");
        assert!(base_url(&Url::parse("ftp://h/").unwrap()).is_err());
        assert!(base_url(&Url::parse("file:///tmp").unwrap()).is_err());
    }

    #[test]
    fn endpoint_urls_join_and_switch_scheme_for_ws() {
        let base = base_url(&Url::parse("https://h.example/app").unwrap()).unwrap();
        assert_eq!(
            endpoint_url(&base, "run", Transport::Ws).unwrap().as_str(),
            "wss://h.example/app/run"
        );
        assert_eq!(
            endpoint_url(&base, "run-stream", Transport::Sse)
                .unwrap()
                .as_str(),
            "https://h.example/app/run-stream"
        );
        let plain = base_url(&Url::parse("http://127.0.0.1:9").unwrap()).unwrap();
        assert_eq!(
            endpoint_url(&plain, "run", Transport::Ws).unwrap().as_str(),
            "ws://127.0.0.1:9/run"
        );
    }

    #[test]
    fn loggable_urls_drop_credentials_and_queries() {
        let url = Url::parse("https://user:pw@h.example/p?X-Amz-Signature=abc#x").unwrap();
        assert_eq!(loggable(&url), "https://h.example/p");
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("theory-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("empty.pem");
        std::fs::write(&path, "nothing here\n").unwrap();
        assert!(matches!(
            client_config(Some(&path)),
            Err(AdapterError::CaFile { .. })
        ));
        assert!(client_config(None).is_ok());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn endpoints_share_one_client_per_ca_file_content() {
        let dir = std::env::temp_dir().join(format!("theory-clients-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ca.pem");
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        std::fs::write(&path, ca.cert.pem()).unwrap();
        let ok = |ca_file| match clients(ca_file) {
            Ok((tls, _)) => tls,
            Err(_) => panic!("clients"),
        };
        let (plain, again) = (ok(None), ok(None));
        assert!(
            Arc::ptr_eq(&plain, &again),
            "one config for the web's roots"
        );
        let private = ok(Some(&path));
        assert!(!Arc::ptr_eq(&plain, &private), "a CA file has its own");
        assert!(Arc::ptr_eq(&private, &ok(Some(&path))));
        let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        std::fs::write(&path, other.cert.pem()).unwrap();
        assert!(
            !Arc::ptr_eq(&private, &ok(Some(&path))),
            "new content, new config"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn only_the_invalid_domain_is_known_not_to_resolve() {
        for host in ["x.invalid", "a.b.INVALID", "invalid", "x.invalid."] {
            assert!(is_invalid_tld(host), "{host}");
        }
        for host in ["invalid.example", "x.invalidx", "localhost", "127.0.0.1"] {
            assert!(!is_invalid_tld(host), "{host}");
        }
    }
}
