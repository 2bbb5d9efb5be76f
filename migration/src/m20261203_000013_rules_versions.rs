//! Every rules version any process ever loaded, with its files' text (deduplicated by
//! hash), each load or failed reload, and what each instance runs now: a ticket's
//! `rules_version` and `file:line` resolve to the exact text long after the files changed,
//! and one call tells whether all instances run the same rules.

use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
enum RulesFiles {
    Table,
    Hash,
    Text,
}

#[derive(DeriveIden)]
enum RulesVersions {
    Table,
    Version,
    Files,
    FirstLoadedAt,
    FirstLoadedBy,
}

#[derive(DeriveIden)]
enum RulesLoads {
    Table,
    Id,
    At,
    Instance,
    Trigger,
    TokenName,
    Version,
    Error,
}

#[derive(DeriveIden)]
enum RulesInstances {
    Table,
    Instance,
    Version,
    LoadedAt,
    StartedAt,
    HeartbeatAt,
    LastError,
    LastErrorAt,
}

#[derive(DeriveMigrationName)]
pub struct Migration;

fn at(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(RulesFiles::Table)
                .col(
                    ColumnDef::new(RulesFiles::Hash)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(RulesFiles::Text).text().not_null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RulesVersions::Table)
                .col(
                    ColumnDef::new(RulesVersions::Version)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                // JSON: [{"name": "rules/sla.toml", "hash": "…", "bytes": N}, …]
                .col(ColumnDef::new(RulesVersions::Files).text().not_null())
                .col(at(RulesVersions::FirstLoadedAt))
                .col(
                    ColumnDef::new(RulesVersions::FirstLoadedBy)
                        .string()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RulesLoads::Table)
                .col(
                    ColumnDef::new(RulesLoads::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(at(RulesLoads::At))
                .col(ColumnDef::new(RulesLoads::Instance).string().not_null())
                .col(ColumnDef::new(RulesLoads::Trigger).string().not_null())
                .col(ColumnDef::new(RulesLoads::TokenName).string().null())
                .col(ColumnDef::new(RulesLoads::Version).string().null())
                .col(ColumnDef::new(RulesLoads::Error).text().null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("rules_loads_version")
                .table(RulesLoads::Table)
                .col(RulesLoads::Version)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(RulesInstances::Table)
                .col(
                    ColumnDef::new(RulesInstances::Instance)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(RulesInstances::Version).string().not_null())
                .col(at(RulesInstances::LoadedAt))
                .col(at(RulesInstances::StartedAt))
                .col(at(RulesInstances::HeartbeatAt))
                .col(ColumnDef::new(RulesInstances::LastError).text().null())
                .col(
                    ColumnDef::new(RulesInstances::LastErrorAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            RulesInstances::Table.into_iden(),
            RulesLoads::Table.into_iden(),
            RulesVersions::Table.into_iden(),
            RulesFiles::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
