-- See migrations/postgres/*_server_secret.sql.
create table server_secret (
    name        text primary key,
    value       blob not null,
    created_at  text not null
);
