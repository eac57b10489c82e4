//! `ferrotape admin …`: user and tenant administration for automation.

use std::io::BufRead;

use ferrotape_accounts::{Accounts, AccountsConfig};
use ferrotape_model::TenantId;
use ferrotape_store::{PgPool, StoreError, tenants};

use crate::cli::AdminCommand;

pub async fn run(
    pool: PgPool,
    config: AccountsConfig,
    command: AdminCommand,
) -> Result<(), String> {
    match command {
        AdminCommand::CreateUser {
            email,
            name,
            role,
            tenant,
        } => {
            let tenant = tenant_by_slug(&pool, tenant.as_deref()).await?;
            let password = new_user_password()?;
            let accounts = Accounts::new(pool, config)
                .await
                .map_err(|e| e.to_string())?;
            let user = accounts
                .create_user(tenant, &email, &name, &password, role)
                .await
                .map_err(|e| format!("cannot create the user: {e}"))?;
            println!(
                "created {} ({}) with role {}",
                user.email, user.id, user.role
            );
            Ok(())
        }
        AdminCommand::CreateTenant { slug, name, hosts } => {
            let tenant = tenants::create(&pool, &slug, &name)
                .await
                .map_err(|e| format!("cannot create the tenant: {e}"))?;
            for host in &hosts {
                add_host(&pool, tenant, host).await?;
            }
            println!("created tenant {slug} ({tenant})");
            Ok(())
        }
        AdminCommand::AddHost { tenant, host } => {
            let tenant = tenant_by_slug(&pool, Some(&tenant)).await?;
            add_host(&pool, tenant, &host).await
        }
    }
}

async fn tenant_by_slug(pool: &PgPool, slug: Option<&str>) -> Result<TenantId, String> {
    match slug {
        None => Ok(TenantId::DEFAULT),
        Some(slug) => match tenants::find_by_slug(pool, slug).await {
            Ok(tenant) => Ok(tenant),
            Err(StoreError::NotFound) => Err(format!("no tenant has the slug `{slug}`")),
            Err(err) => Err(err.to_string()),
        },
    }
}

async fn add_host(pool: &PgPool, tenant: TenantId, host: &str) -> Result<(), String> {
    let host = host.trim().to_ascii_lowercase();
    tenants::add_host(pool, tenant, &host)
        .await
        .map_err(|e| format!("cannot map the host: {e}"))?;
    println!("requests to {host} now belong to tenant {tenant}");
    Ok(())
}

/// From FERROTAPE_NEW_USER_PASSWORD, else the first line of stdin (never a flag: flags end up
/// in shell history and `ps`).
fn new_user_password() -> Result<String, String> {
    if let Ok(password) = std::env::var("FERROTAPE_NEW_USER_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("give the password on stdin or in FERROTAPE_NEW_USER_PASSWORD".into());
    }
    Ok(password)
}
