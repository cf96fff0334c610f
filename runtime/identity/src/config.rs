//! The identity config (`lever.yaml`): users, groups and the roles and runs they grant, OIDC,
//! one-click link settings and change-freeze windows. Validated at load.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::IdentityError;
use crate::freeze::FreezeWindow;
use crate::oidc::OidcIdentity;
use crate::principal::{Principal, Role, RunsRule, Source};

/// The text of the embedded demo config (`demo/lever.yaml`), used when none is given.
pub const EMBEDDED_CONFIG: &str = include_str!("../../../demo/lever.yaml");

/// The whole identity config. Unknown top-level keys are ignored (other components may share
/// the file); unknown keys inside a section are errors.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    /// Users known to Lever.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Groups: roles and template runs they grant, extra members.
    #[serde(default)]
    pub groups: Vec<GroupConfig>,
    /// The OIDC identity provider whose JWTs are accepted, if any.
    #[serde(default)]
    pub oidc: Option<OidcConfig>,
    /// The Backstage portal whose user tokens and static tokens are accepted, if any.
    #[serde(default)]
    pub backstage: Option<crate::backstage::BackstageConfig>,
    /// One-click approval links.
    #[serde(default)]
    pub links: LinksConfig,
    /// Change-freeze windows.
    #[serde(default)]
    pub freeze_windows: Vec<FreezeWindow>,
    /// The web UI's "sign in as" list of the configured users, for the embedded demo. Only
    /// honoured when the server also listens on loopback.
    #[serde(default)]
    pub demo_sign_in: bool,
    /// Where users reach the server (`https://lever.example.com`); an https URL makes the web
    /// UI's session cookie `Secure`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// How long a web UI session lasts, in minutes (default 12 hours).
    #[serde(default)]
    pub session_minutes: Option<u64>,
}

/// One user (`users:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login id, unique.
    pub id: String,
    /// Display name (defaults to the id).
    #[serde(default)]
    pub name: Option<String>,
    /// Email address, for notifications.
    #[serde(default)]
    pub email: Option<String>,
    /// Slack member id (`U024BE7LH`): where the `notifier` capability sends their approval
    /// requests when it is bound to Slack, and who a Slack button press comes from.
    #[serde(default)]
    pub slack: Option<String>,
    /// Team; the user is always in the group of that name.
    #[serde(default)]
    pub team: Option<String>,
    /// Groups the user is in, besides the team.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// One group (`groups:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Group name, unique.
    pub name: String,
    /// Roles every member gets.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Members listed on the group side (user ids, also OIDC ids).
    #[serde(default)]
    pub members: Vec<String>,
    /// Templates members may run.
    #[serde(default)]
    pub runs: Option<RunsRule>,
}

/// The OIDC identity provider (`oidc:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Expected `iss`; discovery is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// The JWKS URL; discovered from the issuer when absent.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Claim holding the user id (default `sub`).
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// Claim holding the groups (default `groups`).
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Claim holding the team (default `team`).
    #[serde(default = "default_team_claim")]
    pub team_claim: String,
    /// The web UI's client id for the authorization-code sign-in (a public client with PKCE;
    /// default: the audience).
    #[serde(default)]
    pub client_id: Option<String>,
}

fn default_user_claim() -> String {
    "sub".to_string()
}

fn default_groups_claim() -> String {
    "groups".to_string()
}

fn default_team_claim() -> String {
    "team".to_string()
}

impl OidcConfig {
    /// A config with the default claim names.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> OidcConfig {
        OidcConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_uri: None,
            user_claim: default_user_claim(),
            groups_claim: default_groups_claim(),
            team_claim: default_team_claim(),
            client_id: None,
        }
    }
}

/// One-click approval links (`links:`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksConfig {
    /// Hex HMAC key; when absent one is generated at first start and kept in the data dir.
    #[serde(default, skip_serializing)]
    pub key: Option<String>,
    /// How long a link stays valid, in minutes (default 1440).
    #[serde(default = "default_ttl_minutes")]
    pub ttl_minutes: u64,
}

fn default_ttl_minutes() -> u64 {
    1440
}

impl Default for LinksConfig {
    fn default() -> Self {
        LinksConfig {
            key: None,
            ttl_minutes: default_ttl_minutes(),
        }
    }
}

impl fmt::Debug for LinksConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinksConfig")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("ttl_minutes", &self.ttl_minutes)
            .finish()
    }
}

impl LinksConfig {
    /// The link lifetime in milliseconds.
    pub fn ttl_ms(&self) -> i64 {
        i64::try_from(self.ttl_minutes)
            .unwrap_or(i64::MAX / 60_000)
            .saturating_mul(60_000)
    }
}

fn invalid(message: String) -> IdentityError {
    IdentityError::InvalidConfig(message)
}

impl Config {
    /// Parses and validates YAML. Errors name the field and say what to fix.
    pub fn from_yaml(text: &str) -> Result<Config, IdentityError> {
        let value: serde_yaml::Value = serde_yaml::from_str(text)
            .map_err(|e| invalid(format!("lever.yaml is not valid YAML: {e}")))?;
        if value.is_null() {
            return Ok(Config::default());
        }
        let config: Config = serde_yaml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The demo config shipped in `demo/lever.yaml`.
    pub fn embedded_default() -> Config {
        Config::from_yaml(EMBEDDED_CONFIG).expect("demo/lever.yaml is valid")
    }

    /// Checks cross-references: unique ids and names, known groups, key and OIDC settings.
    pub fn validate(&self) -> Result<(), IdentityError> {
        let mut ids = HashSet::new();
        for (i, user) in self.users.iter().enumerate() {
            if user.id.trim().is_empty() || user.id.chars().any(char::is_whitespace) {
                return Err(invalid(format!(
                    "users[{i}].id `{}` must be non-empty without spaces",
                    user.id
                )));
            }
            if !ids.insert(user.id.as_str()) {
                return Err(invalid(format!(
                    "users[{i}].id: user `{}` is defined twice",
                    user.id
                )));
            }
        }
        let mut known: HashSet<&str> = HashSet::new();
        for (i, group) in self.groups.iter().enumerate() {
            if group.name.trim().is_empty() {
                return Err(invalid(format!("groups[{i}].name is empty")));
            }
            if !known.insert(group.name.as_str()) {
                return Err(invalid(format!(
                    "groups[{i}].name: group `{}` is defined twice",
                    group.name
                )));
            }
        }
        known.extend(self.users.iter().filter_map(|u| u.team.as_deref()));
        for (i, user) in self.users.iter().enumerate() {
            if let Some(group) = user.groups.iter().find(|g| !known.contains(g.as_str())) {
                return Err(invalid(format!(
                    "users[{i}].groups: user `{}` is in unknown group `{group}`; define it under `groups:` or fix the name",
                    user.id
                )));
            }
        }
        if let Some(key) = &self.links.key {
            match hex::decode(key.trim()) {
                Ok(bytes) if bytes.len() >= 16 => {}
                _ => {
                    return Err(invalid(
                        "links.key must be at least 32 hex digits (16 bytes), or null to generate one".to_string(),
                    ));
                }
            }
        }
        if self.links.ttl_minutes == 0 {
            return Err(invalid("links.ttl_minutes must be at least 1".to_string()));
        }
        if let Some(oidc) = &self.oidc {
            if !(oidc.issuer.starts_with("https://") || oidc.issuer.starts_with("http://")) {
                return Err(invalid(format!(
                    "oidc.issuer `{}` must be an http(s) URL",
                    oidc.issuer
                )));
            }
            if oidc.audience.trim().is_empty() {
                return Err(invalid(
                    "oidc.audience is empty; set the client id your IdP puts in `aud`".to_string(),
                ));
            }
            for (field, claim) in [
                ("user_claim", &oidc.user_claim),
                ("groups_claim", &oidc.groups_claim),
                ("team_claim", &oidc.team_claim),
            ] {
                if claim.trim().is_empty() {
                    return Err(invalid(format!("oidc.{field} is empty")));
                }
            }
        }
        if let Some(backstage) = &self.backstage {
            backstage
                .validate(|id| self.user(id).is_some())
                .map_err(invalid)?;
        }
        let mut windows = HashSet::new();
        for (i, window) in self.freeze_windows.iter().enumerate() {
            if !windows.insert(window.name.as_str()) {
                return Err(invalid(format!(
                    "freeze_windows[{i}].name: window `{}` is defined twice",
                    window.name
                )));
            }
        }
        Ok(())
    }

    /// A configured user.
    pub fn user(&self, id: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| u.id == id)
    }

    /// A configured group.
    pub fn group(&self, name: &str) -> Option<&GroupConfig> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Every group's name and every team named on a user (a team is a group too), sorted.
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.groups.iter().map(|g| g.name.clone()).collect();
        names.extend(self.users.iter().filter_map(|u| u.team.clone()));
        names.sort();
        names.dedup();
        names
    }

    /// The groups that give the platform role: the platform team.
    pub fn platform_groups(&self) -> Vec<&str> {
        self.groups
            .iter()
            .filter(|g| g.roles.contains(&Role::Platform))
            .map(|g| g.name.as_str())
            .collect()
    }

    /// Ids of everyone in a group: users listing it or having it as team, and its `members`.
    pub fn members_of(&self, group: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .users
            .iter()
            .filter(|u| u.team.as_deref() == Some(group) || u.groups.iter().any(|g| g == group))
            .map(|u| u.id.clone())
            .collect();
        for member in self
            .group(group)
            .map(|g| g.members.as_slice())
            .unwrap_or_default()
        {
            if !out.contains(member) {
                out.push(member.clone());
            }
        }
        out
    }

    /// Change-freeze windows in force at this instant (Unix ms).
    pub fn freeze_active(&self, now_ms: i64) -> Vec<&FreezeWindow> {
        self.freeze_windows
            .iter()
            .filter(|w| w.active_at(now_ms))
            .collect()
    }

    /// The principal of a configured user (source [`Source::Config`]).
    pub fn principal(&self, user_id: &str) -> Option<Principal> {
        let user = self.user(user_id)?;
        Some(self.assemble(
            &user.id,
            user.name.clone().unwrap_or_else(|| user.id.clone()),
            user.email.clone(),
            user.team.clone(),
            user.groups.clone(),
            Source::Config,
        ))
    }

    /// The principal of a verified OIDC identity: its claims, completed by the config user of
    /// the same id if there is one (config groups and, when the token has none, team, name, email).
    pub fn oidc_principal(&self, identity: &OidcIdentity) -> Principal {
        let user = self.user(&identity.user_id);
        let mut groups = identity.groups.clone();
        if let Some(user) = user {
            // A configured user keeps their config groups and team group whatever the token says.
            groups.extend(user.groups.iter().chain(&user.team).cloned());
        }
        let name = identity
            .name
            .clone()
            .or_else(|| user.and_then(|u| u.name.clone()))
            .unwrap_or_else(|| identity.user_id.clone());
        let email = identity
            .email
            .clone()
            .or_else(|| user.and_then(|u| u.email.clone()));
        let team = identity
            .team
            .clone()
            .or_else(|| user.and_then(|u| u.team.clone()));
        self.assemble(&identity.user_id, name, email, team, groups, Source::Oidc)
    }

    /// Completes groups (team, group-side members) and derives roles and runs rules.
    fn assemble(
        &self,
        id: &str,
        name: String,
        email: Option<String>,
        team: Option<String>,
        listed: Vec<String>,
        source: Source,
    ) -> Principal {
        let mut groups = Vec::new();
        let group_side = self
            .groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == id))
            .map(|g| g.name.clone());
        for group in listed.into_iter().chain(team.clone()).chain(group_side) {
            if !group.is_empty() && !groups.contains(&group) {
                groups.push(group);
            }
        }
        let principal = Principal {
            id: id.to_string(),
            name,
            email,
            team,
            groups,
            roles: Vec::new(),
            runs: Vec::new(),
            source,
        };
        self.with_grants(principal)
    }

    /// Sets roles (developer plus every group's roles) and runs rules from the groups.
    fn with_grants(&self, mut principal: Principal) -> Principal {
        let mut roles = vec![Role::Developer];
        let mut runs = Vec::new();
        for group in principal.groups.iter().filter_map(|g| self.group(g)) {
            roles.extend(group.roles.iter().copied());
            runs.extend(group.runs.clone());
        }
        roles.sort();
        roles.dedup();
        principal.roles = roles;
        principal.runs = runs;
        principal
    }
}
