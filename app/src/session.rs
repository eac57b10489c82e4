//! The signed-in user as the whole UI sees it: one resource, refetched after log in and out.

use ferrotape_model::{Role, SessionUser};
use leptos::prelude::*;

use crate::AppError;
use crate::api::accounts::current_user;

#[derive(Clone, Copy)]
pub struct Session {
    pub user: Resource<Result<Option<SessionUser>, AppError>>,
    version: RwSignal<u32>,
}

impl Session {
    pub fn provide() -> Session {
        let version = RwSignal::new(0u32);
        let session = Session {
            user: Resource::new(move || version.get(), |_| current_user()),
            version,
        };
        provide_context(session);
        session
    }

    pub fn get() -> Session {
        expect_context::<Session>()
    }

    /// Reloads the user after a log in, log out or role change.
    pub fn changed(&self) {
        self.version.update(|v| *v += 1);
    }
}

/// Whether the user may see links to what `required` allows (the server still checks).
pub fn shows(user: &Option<SessionUser>, required: Role) -> bool {
    user.as_ref().is_some_and(|u| u.role.allows(required))
}
