-- Source data built by a model, so that dbt-ol reports it as a dataset with a producing job.
select * from (values
    (101, 'Ada', 'ada@example.org'),
    (102, 'Grace', 'grace@example.org'),
    (103, 'Edsger', 'edsger@example.org')
) as t(customer_id, name, email)
