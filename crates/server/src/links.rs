//! Signed links: a meet link (one meet, one customer, expiring) and a chat-resume link.
//! Format: `base64url(json payload) "." base64url(HMAC-SHA256(payload))`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum LinkClaims {
    /// Opens meet `m` for customer `c`.
    Meet { m: String, c: String, e: i64 },
    /// Resumes chat `h` of customer `c` in the widget.
    Resume { c: String, h: String, e: i64 },
}

impl LinkClaims {
    pub fn expires_at(&self) -> i64 {
        match self {
            LinkClaims::Meet { e, .. } | LinkClaims::Resume { e, .. } => *e,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is malformed or its signature does not match")]
    Invalid,
    #[error("the link has expired")]
    Expired,
}

#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    pub fn new(key: &[u8]) -> Signer {
        Signer { key: key.to_vec() }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }

    pub fn sign(&self, claims: &LinkClaims) -> String {
        let payload = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("{payload}.{sig}")
    }

    pub fn verify(&self, token: &str, now: i64) -> Result<LinkClaims, LinkError> {
        let (payload, sig) = token.split_once('.').ok_or(LinkError::Invalid)?;
        let sig = B64.decode(sig).map_err(|_| LinkError::Invalid)?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&sig).map_err(|_| LinkError::Invalid)?;
        let json = B64.decode(payload).map_err(|_| LinkError::Invalid)?;
        let claims: LinkClaims = serde_json::from_slice(&json).map_err(|_| LinkError::Invalid)?;
        if claims.expires_at() <= now {
            return Err(LinkError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_link_round_trips_and_tampering_is_detected() {
        let s = Signer::new(b"k");
        let claims = LinkClaims::Meet { m: "m1".into(), c: "c1".into(), e: 100 };
        let t = s.sign(&claims);
        assert_eq!(s.verify(&t, 99), Ok(claims));
        assert_eq!(s.verify(&t, 100), Err(LinkError::Expired));
        let forged = LinkClaims::Meet { m: "m2".into(), c: "c1".into(), e: 100 };
        let forged_payload = B64.encode(serde_json::to_vec(&forged).unwrap_or_default());
        let sig = t.split_once('.').map(|(_, s)| s).unwrap_or_default();
        assert_eq!(s.verify(&format!("{forged_payload}.{sig}"), 0), Err(LinkError::Invalid));
        assert_eq!(Signer::new(b"other").verify(&t, 0), Err(LinkError::Invalid));
        assert_eq!(s.verify("garbage", 0), Err(LinkError::Invalid));
    }
}
