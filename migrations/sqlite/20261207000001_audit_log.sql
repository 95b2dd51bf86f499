-- See migrations/postgres/*_audit_log.sql.
create table audit_log (
    audit_id    integer primary key autoincrement,
    at          text not null,
    actor       text not null,
    action      text not null,
    target      text not null,
    request_id  text,
    detail      text not null default '{}'
);

create index audit_log_at on audit_log (at);
create index audit_log_actor_at on audit_log (actor, at);
