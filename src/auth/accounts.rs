//! Creating accounts, shared by the sign-up form and `natter user create`, so both apply the
//! same rules and give the same messages.

use sqlx::PgPool;

use super::{db, password};
use crate::config::Signup;
use crate::error::{AppError, violated_constraint};
use crate::secrets::hash_secret;
use crate::state::AppState;

/// What someone typed into the sign-up form (or passed on the command line).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct NewAccount {
    pub email: String,
    pub username: String,
    pub name: String,
    pub password: String,
}

pub const MIN_PASSWORD_CHARS: usize = 8;

impl NewAccount {
    /// Trims and lowercases what should be, and says what to fix if anything is wrong.
    pub fn normalised(&self) -> Result<NewAccount, AppError> {
        let email = self.email.trim().to_owned();
        let username = self.username.trim().trim_start_matches('@').to_lowercase();
        let name = self.name.trim().to_owned();
        if !is_plausible_email(&email) {
            return Err(invalid("Enter an email address like name@example.com."));
        }
        if let Err(why) = check_username(&username) {
            return Err(invalid(why));
        }
        if name.is_empty() || name.chars().count() > 80 {
            return Err(invalid("Enter your name (up to 80 characters)."));
        }
        check_password(&self.password)?;
        Ok(NewAccount {
            email,
            username,
            name,
            password: self.password.clone(),
        })
    }
}

/// The rules for a new password, wherever one is chosen (sign-up, change, reset).
pub fn check_password(password: &str) -> Result<(), AppError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(invalid("Choose a password of at least 8 characters."));
    }
    if password.len() > 1024 {
        return Err(invalid("That password is too long (1,024 bytes at most)."));
    }
    Ok(())
}

fn invalid(message: &str) -> AppError {
    AppError::Validation(message.to_owned())
}

pub fn is_plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && email.len() <= 254
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// Usernames are the handles of `@mentions`: lowercase letters, digits, `.`, `_` and `-`.
pub fn check_username(username: &str) -> Result<(), &'static str> {
    if username.is_empty() || username.len() > 32 {
        return Err("Choose a username of 1 to 32 characters.");
    }
    if !username
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    {
        return Err("Usernames may hold only lowercase letters, digits, '.', '_' and '-'.");
    }
    if crate::markdown::MENTION_ALL.contains(&username) {
        return Err("That name is taken by @here, @channel and @everyone; choose another.");
    }
    Ok(())
}

/// Whether the instance's sign-up policy (`NATTER_SIGNUP`) lets this person make an account:
/// always when open; with `invite`, only someone following a live invite link (`next` is
/// `/invite/<code>`); with `domains:…`, only an address at one of them.
pub async fn check_signup(state: &AppState, email: &str, next: &str) -> Result<(), AppError> {
    match &state.config.signup {
        Signup::Open => Ok(()),
        Signup::Invite => {
            let code = next.strip_prefix("/invite/").unwrap_or_default();
            if !code.is_empty() && db::live_invite(&state.db, &hash_secret(code)).await? {
                Ok(())
            } else {
                Err(invalid(
                    "Sign-up here is by invitation: open the invite link a colleague sent you.",
                ))
            }
        }
        Signup::Domains(domains) => {
            let domain = email
                .trim()
                .rsplit_once('@')
                .map(|(_, d)| d.to_lowercase())
                .unwrap_or_default();
            if domains.contains(&domain) {
                Ok(())
            } else {
                Err(invalid(&format!(
                    "Sign-up here is open to addresses at {}.",
                    domains.join(", ")
                )))
            }
        }
    }
}

/// Deactivates (`false`) or reactivates an account everywhere, as an instance admin. A
/// deactivated account's every session, token and socket ends at once: each request asks
/// for an active account, and its sockets are told to close.
pub async fn set_account_active(
    state: &AppState,
    actor_id: i64,
    user_id: i64,
    active: bool,
) -> Result<(), AppError> {
    if actor_id == user_id {
        return Err(invalid("You cannot deactivate your own account."));
    }
    let mut tx = state.db.begin().await?;
    let email = db::set_deactivated(&mut *tx, user_id, !active)
        .await?
        .ok_or(AppError::NotFound)?;
    let action = if active {
        "account.reactivate"
    } else {
        "account.deactivate"
    };
    crate::audit::record_instance(&mut *tx, actor_id, action, &email).await?;
    tx.commit().await?;
    if !active {
        super::live::session_closed(state, user_id, None);
    }
    Ok(())
}

/// The first free username of `stem`, `stem-2`, `stem-3` … (accounts made for someone: SCIM
/// users, bots); `None` if the first thousand are taken.
pub async fn free_username(db: &PgPool, stem: &str) -> sqlx::Result<Option<String>> {
    for n in 1..1000 {
        let candidate = if n == 1 {
            stem.to_owned()
        } else {
            format!("{stem}-{n}")
        };
        if check_username(&candidate).is_ok() && !db::username_taken(db, &candidate).await? {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// What sign-up says of a registered email: nothing that confirms it is registered. The
/// difference between this answer and a new account still tells a prober with a fresh
/// username, but only at the sign-up throttle's pace, and each free address probed leaves an
/// account behind for the admin to see; hiding it wholly needs an emailed confirmation.
const EMAIL_NOT_USABLE: &str = "Sign-up with that email did not work. If you have an account, log in; otherwise use another email.";

/// Validates and stores a new account; returns its id. A taken email or username is refused
/// before the password is hashed, so a replayed form costs a query, not an Argon2 run (the
/// unique keys still decide a race between two sign-ups).
pub async fn create(db: &PgPool, input: &NewAccount) -> Result<i64, AppError> {
    let account = input.normalised()?;
    let (email_taken, username_taken) = db::taken(db, &account.email, &account.username).await?;
    if email_taken {
        return Err(invalid(EMAIL_NOT_USABLE));
    }
    if username_taken {
        return Err(invalid("That username is taken. Choose another."));
    }
    let hash = password::hash(account.password.clone()).await?;
    db::insert_user(db, &account.email, &account.username, &account.name, &hash)
        .await
        .map_err(|e| match violated_constraint(&e) {
            Some("users_email_key") => invalid(EMAIL_NOT_USABLE),
            Some("users_username_key") => invalid("That username is taken. Choose another."),
            _ => e.into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(email: &str, username: &str) -> NewAccount {
        NewAccount {
            email: email.into(),
            username: username.into(),
            name: "Ada".into(),
            password: "long enough".into(),
        }
    }

    #[test]
    fn usernames_are_lowercased_and_checked() {
        assert_eq!(
            input("a@b.co", "@Ada.L").normalised().unwrap().username,
            "ada.l"
        );
        assert!(input("a@b.co", "ada lovelace").normalised().is_err());
        assert!(input("a@b.co", "").normalised().is_err());
    }

    #[test]
    fn emails_must_look_like_emails() {
        assert!(input("ada", "ada").normalised().is_err());
        assert!(input("ada@localhost", "ada").normalised().is_err());
        assert!(input(" ada@example.com ", "ada").normalised().is_ok());
    }
}
