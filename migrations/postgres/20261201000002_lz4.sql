-- Large JSON values (a plan's job node, OpenLineage datasets with their facets) and request
-- bodies are compressed when stored. lz4 compresses several times faster than the default
-- pglz for about the same size; only values written from now on are affected. A server built
-- without lz4 keeps pglz.
do $$
begin
    alter table node alter column properties set compression lz4;
    alter table node alter column property_times set compression lz4;
    alter table edge alter column properties set compression lz4;
    alter table raw_payload alter column body set compression lz4;
exception when feature_not_supported then
    raise notice 'lz4 is not available; values stay compressed with pglz';
end
$$;
