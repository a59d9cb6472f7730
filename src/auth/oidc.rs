//! Single sign-on with OpenID Connect, when `NATTER_OIDC_ISSUER`, `NATTER_OIDC_CLIENT_ID` and
//! `NATTER_OIDC_CLIENT_SECRET` are set: "Continue with SSO" on the login page.
//!
//! - The authorization code flow with PKCE (S256), a random `state` and a random `nonce`, all
//!   three kept in the session between `/auth/oidc/login` and `/auth/oidc/callback` and used
//!   once.
//! - The ID token's signature is checked against the provider's published keys, and its
//!   issuer, audience, expiry and nonce against what this login expects (openidconnect does
//!   the checking). A key the provider rotated in sends Natter back to its discovery document.
//! - Every request to the provider goes through the outbound client ([`crate::outbound`]).
//! - Which account: the one this provider's subject logged in as before; else the account
//!   whose email the provider says it has *verified* (`email_verified: true`), never an
//!   unverified one; else a new account, if the sign-up policy admits the email. A person
//!   with two-factor on is asked for their code as after a password.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tower_sessions::Session;

use super::csrf::Visitor;
use super::{accounts, db, safe_next, session, two_factor};
use crate::config::OidcConfig;
use crate::error::AppError;
use crate::outbound::{self, Outbound, OutboundError};
use crate::state::AppState;

/// How long a discovery document (and the keys it points at) is trusted.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// Discovery, keys and token answers are a few KiB.
const MAX_ANSWER: usize = 1024 * 1024;
/// The session key of a login that went to the provider.
const PENDING: &str = "oidc_pending";

/// The client as discovery makes it: an authorization endpoint always, a token endpoint and
/// user info maybe.
type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// openidconnect's requests, made by the outbound client.
struct Http(Outbound);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = OutboundError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, OutboundError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request)
                .map_err(|e| OutboundError::Refused(format!("not a request: {e}")))?;
            let answer = self
                .0
                .send(outbound::Request::from_http(request).max_body(MAX_ANSWER))
                .await?;
            let mut response = HttpResponse::new(answer.body);
            *response.status_mut() = openidconnect::http::StatusCode::from_u16(answer.status)
                .map_err(|e| OutboundError::Failed(e.to_string()))?;
            *response.headers_mut() = answer.headers;
            Ok(response)
        })
    }
}

/// Discovery documents (with the keys they point at) by issuer, fetched on first use and kept
/// an hour: one per provider for the whole process, whichever server state asks.
static DISCOVERED: std::sync::LazyLock<
    tokio::sync::Mutex<std::collections::HashMap<String, (Instant, CoreProviderMetadata)>>,
> = std::sync::LazyLock::new(Default::default);

/// The configured provider, as this request reaches it.
struct Provider<'a> {
    config: &'a OidcConfig,
    redirect: String,
    http: Http,
}

impl Provider<'_> {
    async fn client(&self) -> anyhow::Result<OidcClient> {
        let mut discovered = DISCOVERED.lock().await;
        let issuer = &self.config.issuer;
        let fresh = discovered
            .get(issuer)
            .is_some_and(|(at, _)| at.elapsed() < DISCOVERY_TTL);
        if !fresh {
            let url = IssuerUrl::new(issuer.clone())?;
            let metadata = CoreProviderMetadata::discover_async(url, &self.http).await?;
            discovered.insert(issuer.clone(), (Instant::now(), metadata));
        }
        let metadata = discovered[issuer].1.clone();
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(self.redirect.clone())?))
    }

    /// Drops the discovery document: the next login fetches it and the keys again.
    async fn forget(&self) {
        DISCOVERED.lock().await.remove(&self.config.issuer);
    }
}

/// A login on its way through the provider.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
    next: String,
}

#[derive(Deserialize)]
pub struct Start {
    #[serde(default)]
    next: String,
}

/// The provider, or 404 where none is configured.
fn provider(state: &AppState) -> Result<Provider<'_>, AppError> {
    let config = state.config.oidc.as_ref().ok_or(AppError::NotFound)?;
    Ok(Provider {
        config,
        redirect: format!("{}/auth/oidc/callback", state.config.public_url),
        http: Http(state.outbound.clone()),
    })
}

/// `GET /auth/oidc/login`: off to the provider.
pub async fn start(
    State(state): State<AppState>,
    session: Session,
    visitor: Visitor,
    Query(start): Query<Start>,
) -> Result<Response, AppError> {
    let provider = provider(&state)?;
    let client = match provider.client().await {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "the OpenID provider's discovery failed"
            );
            return refuse(
                &state,
                &session,
                visitor,
                "Your identity provider cannot be reached right now. Try again in a moment, or log in with your password.",
            )
            .await;
        }
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf_state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    session
        .insert(
            PENDING,
            Pending {
                state: csrf_state,
                nonce,
                verifier,
                next: safe_next(&start.next),
            },
        )
        .await?;
    Ok(Redirect::to(url.as_str()).into_response())
}

/// The login page again, saying why single sign-on did not log the person in.
async fn refuse(
    state: &AppState,
    session: &Session,
    visitor: Visitor,
    why: &str,
) -> Result<Response, AppError> {
    super::handlers::login_refused(state, session, visitor, why).await
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/oidc/callback`: the provider sends the browser back with a code.
pub async fn callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    session: Session,
    visitor: Visitor,
    Query(back): Query<Callback>,
) -> Result<Response, AppError> {
    let provider = provider(&state)?;
    // Used once, whatever happens next.
    let Some(pending) = session.remove::<Pending>(PENDING).await? else {
        return refuse(
            &state,
            &session,
            visitor,
            "That sign-in has expired or was used already. Choose \"Continue with SSO\" again.",
        )
        .await;
    };
    // Compared as digests: the time taken says nothing about how much of it matched.
    let given = back.state.as_deref().unwrap_or_default();
    if sha2::Sha256::digest(pending.state.secret()) != sha2::Sha256::digest(given) {
        return refuse(
            &state,
            &session,
            visitor,
            "That sign-in did not start here. Choose \"Continue with SSO\" again.",
        )
        .await;
    }
    if let Some(error) = back.error {
        let why = format!("Your identity provider did not sign you in ({error}).");
        return refuse(&state, &session, visitor, &why).await;
    }
    let verified = match verify(&provider, back.code.unwrap_or_default(), &pending).await {
        Ok(identity) => identity,
        Err(why) => return refuse(&state, &session, visitor, why).await,
    };
    let user_id = match account(&state, &verified, &pending.next).await? {
        Ok(user_id) => user_id,
        Err(why) => return refuse(&state, &session, visitor, &why).await,
    };
    let address = crate::web::client::address(peer.ip(), &headers, &state.config.trusted_proxies);
    let to = two_factor::after_first_factor(
        &state,
        &session,
        user_id,
        &session::Origin::of(&headers, address),
        &pending.next,
    )
    .await?;
    Ok(Redirect::to(&to).into_response())
}

/// Who the provider says signed in.
struct Identity {
    issuer: String,
    subject: String,
    /// Lower case; `None` unless the provider says it verified it.
    verified_email: Option<String>,
    name: Option<String>,
    username: Option<String>,
}

/// Trades the code for tokens and checks the ID token; what went wrong is logged in full and
/// told to the person in one sentence.
async fn verify(
    provider: &Provider<'_>,
    code: String,
    pending: &Pending,
) -> Result<Identity, &'static str> {
    const NOT_CONFIRMED: &str = "Your identity provider's answer could not be verified, so you are not logged in. Try again.";
    let client = provider.client().await.map_err(|e| {
        tracing::warn!(
            error = format!("{e:#}"),
            "the OpenID provider's discovery failed"
        );
        "Your identity provider cannot be reached right now. Try again in a moment."
    })?;
    let request = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| {
            tracing::warn!(error = %e, "the OpenID provider has no token endpoint");
            NOT_CONFIRMED
        })?;
    let tokens = request
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.secret().clone()))
        .request_async(&provider.http)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "the OpenID provider refused the code");
            NOT_CONFIRMED
        })?;
    let id_token = tokens.id_token().ok_or_else(|| {
        tracing::warn!("the OpenID provider's answer has no ID token");
        NOT_CONFIRMED
    })?;
    let claims = match id_token.claims(&client.id_token_verifier(), &pending.nonce) {
        Ok(claims) => claims,
        Err(e) => {
            tracing::warn!(error = %e, "an ID token was refused");
            if matches!(
                e,
                ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey
                )
            ) {
                // The provider may have rotated its keys since discovery.
                provider.forget().await;
            }
            return Err(NOT_CONFIRMED);
        }
    };
    let email = claims
        .email()
        .map(|e| e.as_str().trim().to_lowercase())
        .filter(|e| !e.is_empty());
    Ok(Identity {
        issuer: claims.issuer().as_str().to_owned(),
        subject: claims.subject().as_str().to_owned(),
        verified_email: email.filter(|_| claims.email_verified() == Some(true)),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().trim().to_owned())
            .filter(|n| !n.is_empty()),
        username: claims.preferred_username().map(|u| u.as_str().to_owned()),
    })
}

/// The account the identity logs in as, or why there is none.
async fn account(
    state: &AppState,
    who: &Identity,
    next: &str,
) -> Result<Result<i64, String>, AppError> {
    // Logged in through this provider before: the same account, whatever the email is now.
    let known: Option<(i64, bool)> = sqlx::query_as(
        "update user_identities i set last_login_at = now()
         from users u
         where i.issuer = $1 and i.subject = $2 and u.id = i.user_id
         returning u.id, u.deactivated_at is null",
    )
    .bind(&who.issuer)
    .bind(&who.subject)
    .fetch_optional(&state.db)
    .await?;
    match known {
        Some((id, true)) => return Ok(Ok(id)),
        Some((_, false)) => return Ok(Err(DEACTIVATED.to_owned())),
        None => {}
    }
    let Some(email) = &who.verified_email else {
        return Ok(Err(
            "Your identity provider has not confirmed your email address, so Natter cannot tell which account is yours. Ask your administrator to verify it there, or log in with your password."
                .to_owned(),
        ));
    };
    let existing: Option<(i64, bool)> = sqlx::query_as(
        "select id, deactivated_at is null from users where lower(email) = $1 and not is_bot",
    )
    .bind(email)
    .fetch_optional(&state.db)
    .await?;
    let user_id = match existing {
        Some((_, false)) => return Ok(Err(DEACTIVATED.to_owned())),
        Some((id, true)) => id,
        None => match create(state, who, email, next).await? {
            Ok(id) => id,
            Err(why) => return Ok(Err(why)),
        },
    };
    // The provider vouched for the address: it counts as confirmed.
    sqlx::query(
        "update users set email_verified_at = coalesce(email_verified_at, now()) where id = $1",
    )
    .bind(user_id)
    .execute(&state.db)
    .await?;
    sqlx::query(
        "insert into user_identities (issuer, subject, user_id, email) values ($1, $2, $3, $4)
         on conflict (issuer, subject) do nothing",
    )
    .bind(&who.issuer)
    .bind(&who.subject)
    .bind(user_id)
    .bind(email)
    .execute(&state.db)
    .await?;
    Ok(Ok(user_id))
}

const DEACTIVATED: &str =
    "That account is deactivated. Ask an administrator if you think it should not be.";

/// A new account for a first login, if the sign-up policy admits the email; it has no
/// password (its person logs in through the provider, or sets one by reset).
async fn create(
    state: &AppState,
    who: &Identity,
    email: &str,
    next: &str,
) -> Result<Result<i64, String>, AppError> {
    if let Err(e) = accounts::check_signup(state, email, next).await {
        return match e {
            AppError::Validation(why) => Ok(Err(why)),
            other => Err(other),
        };
    }
    let stem: String = who
        .username
        .as_deref()
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default())
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(30)
        .collect();
    let stem = if stem.is_empty() {
        "member".to_owned()
    } else {
        stem
    };
    let Some(username) = accounts::free_username(&state.db, &stem).await? else {
        return Ok(Err(
            "No free username is left for you; ask an administrator.".to_owned(),
        ));
    };
    let name = who.name.clone().unwrap_or_else(|| username.clone());
    let name: String = name.chars().take(80).collect();
    Ok(Ok(
        db::insert_account(&state.db, email, &username, &name).await?
    ))
}
