//! What a token server says is left of its budget for this client, from the headers of its
//! token responses:
//!
//! - Auth0's `Auth0-Client-Quota-Limit: b=per_hour;q=1000;r=999;t=3600,b=per_day;…` (the
//!   machine-to-machine token quota: `q` the quota, `r` what remains, per bucket);
//! - the IETF's `RateLimit: "default";r=50;t=30` with `RateLimit-Policy: "default";q=100;w=60`
//!   (draft-ietf-httpapi-ratelimit-headers), and the earlier drafts' `RateLimit-Remaining` /
//!   `RateLimit-Limit`, also sent as `X-RateLimit-*` and `X-Rate-Limit-*` (Okta).
//!
//! The tightest bucket wins. Anything unreadable is ignored: a budget is advice, never a reason
//! to refuse a token.

use http::HeaderMap;

use crate::token::Quota;

/// The smallest remaining budget the headers state, with its limit when stated; `None` if
/// they state none.
pub(crate) fn quota(headers: &HeaderMap) -> Option<Quota> {
    let mut found: Option<Quota> = None;
    let mut offer = |remaining: u64, limit: Option<u64>| {
        if found.is_none_or(|best| remaining < best.remaining) {
            found = Some(Quota { remaining, limit });
        }
    };
    for value in texts(headers, "auth0-client-quota-limit") {
        for bucket in value.split(',') {
            if let Some(remaining) = param(bucket, "r") {
                offer(remaining, param(bucket, "q"));
            }
        }
    }
    let policy_limit = texts(headers, "ratelimit-policy")
        .flat_map(|value| value.split(','))
        .find_map(|policy| param(policy, "q"));
    for value in texts(headers, "ratelimit") {
        for item in value.split(',') {
            if let Some(remaining) = param(item, "r") {
                offer(remaining, policy_limit);
            }
        }
    }
    for prefix in ["ratelimit", "x-ratelimit", "x-rate-limit"] {
        let number = |name: &str| {
            texts(headers, &format!("{prefix}-{name}"))
                .find_map(|value| value.split([',', ';']).next()?.trim().parse().ok())
        };
        if let Some(remaining) = number("remaining") {
            offer(remaining, number("limit"));
        }
    }
    found
}

fn texts<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
}

/// The number after `name=` among the `;`-separated parameters of `item`.
fn param(item: &str, name: &str) -> Option<u64> {
    item.split(';').find_map(|part| {
        let (key, value) = part.split_once('=')?;
        (key.trim().eq_ignore_ascii_case(name))
            .then(|| value.trim().trim_matches('"').parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.append(*name, http::HeaderValue::from_static(value));
        }
        map
    }

    fn read(lines: &[(&'static str, &'static str)]) -> Option<(u64, Option<u64>)> {
        quota(&headers(lines)).map(|q| (q.remaining, q.limit))
    }

    #[test]
    fn reads_auth0s_tightest_bucket() {
        let auth0 = "b=per_hour;q=100;r=7;t=3600,b=per_day;q=1000;r=900;t=86400";
        assert_eq!(
            read(&[("auth0-client-quota-limit", auth0)]),
            Some((7, Some(100)))
        );
    }

    #[test]
    fn reads_the_ietf_fields_and_the_earlier_drafts() {
        let ietf = [
            ("ratelimit", "\"default\";r=50;t=30"),
            ("ratelimit-policy", "\"default\";q=100;w=60"),
        ];
        assert_eq!(read(&ietf), Some((50, Some(100))));
        let draft = [("ratelimit-remaining", "4"), ("ratelimit-limit", "10")];
        assert_eq!(read(&draft), Some((4, Some(10))));
        let okta = [
            ("x-rate-limit-remaining", "3"),
            ("x-rate-limit-limit", "600"),
        ];
        assert_eq!(read(&okta), Some((3, Some(600))));
    }

    #[test]
    fn garbage_or_nothing_is_no_budget() {
        assert_eq!(read(&[]), None);
        assert_eq!(
            read(&[("auth0-client-quota-limit", "b=per_hour;q=x;r=-1")]),
            None
        );
        assert_eq!(read(&[("ratelimit-remaining", "lots")]), None);
    }
}
