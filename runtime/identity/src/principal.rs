//! Who is calling: a user with groups and roles, and what those let them run.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// What a user may do. Every user is a developer; groups grant the other roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the templates their groups may run.
    Developer,
    /// Decides approval stages that name one of their groups.
    Approver,
    /// Runs anything, manages templates, policies, tokens and plugins.
    Platform,
}

impl Role {
    /// The lowercase name used in config and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Developer => "developer",
            Role::Approver => "approver",
            Role::Platform => "platform",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "developer" => Ok(Role::Developer),
            "approver" => Ok(Role::Approver),
            "platform" => Ok(Role::Platform),
            other => Err(format!(
                "unknown role `{other}`: use developer, approver or platform"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Built from config alone (no credential checked here).
    Config,
    /// A Lever API token (`lvr_...`).
    Token,
    /// A JWT from the configured OIDC identity provider.
    Oidc,
    /// A Backstage portal's user token (`backstage:`): the one kind of caller whose token
    /// Lever may present back to that portal (to read its catalog as them).
    Backstage,
}

/// Templates a group's members may run: by template owner or by tag; `"*"` matches any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunsRule {
    /// Template owners (`spec.owner`), e.g. `group:default/payments` or `payments`.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Template tags (`metadata.tags`).
    #[serde(default)]
    pub tags: Vec<String>,
}

impl RunsRule {
    /// Whether a template with this owner and these tags is covered.
    pub fn matches(&self, owner: &str, tags: &[String]) -> bool {
        self.owners
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(owner))
            || self.tags.iter().any(|t| t == "*" || tags.contains(t))
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Principal {
    /// User id (config `users[].id`, or the OIDC user claim).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email, if known.
    pub email: Option<String>,
    /// Team, if any; the user is always in the group of that name.
    pub team: Option<String>,
    /// Every group the user is in (listed on the user, the team, groups listing them, OIDC groups).
    pub groups: Vec<String>,
    /// Roles: always `developer`, plus those granted by the groups.
    pub roles: Vec<Role>,
    /// The `runs` rules of the user's groups, used by [`Principal::can_run`].
    pub runs: Vec<RunsRule>,
    /// How the caller authenticated.
    pub source: Source,
}

/// The user that always exists, as a platform principal, even when missing from config.
pub const ADMIN: &str = "admin";

impl Principal {
    /// The built-in `admin` used when config does not define one: platform role, group `platform`.
    pub fn builtin_admin(source: Source) -> Principal {
        Principal {
            id: ADMIN.to_string(),
            name: "Administrator".to_string(),
            email: None,
            team: None,
            groups: vec!["platform".to_string()],
            roles: vec![Role::Developer, Role::Platform],
            runs: Vec::new(),
            source,
        }
    }

    /// Whether the user has a role.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the user has the platform role.
    pub fn is_platform(&self) -> bool {
        self.has_role(Role::Platform)
    }

    /// Whether the user is in a group.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// Whether the user may run a template with this owner and these tags: platform users run
    /// anything; a template owned by the user's team (`group:default/<team>` or `<team>`) always
    /// matches; otherwise one of the user's groups must allow it (owner, tag or `"*"`).
    pub fn can_run(&self, owner: &str, tags: &[String]) -> bool {
        if self.is_platform() {
            return true;
        }
        if let Some(team) = &self.team
            && (owner.eq_ignore_ascii_case(team)
                || owner.eq_ignore_ascii_case(&format!("group:default/{team}")))
        {
            return true;
        }
        self.runs.iter().any(|rule| rule.matches(owner, tags))
    }
}
