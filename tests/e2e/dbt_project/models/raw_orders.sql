-- Source data built by a model, so that dbt-ol reports it as a dataset with a producing job.
select * from (values
    (1, 101, date '2025-01-03', 25.00),
    (2, 102, date '2025-01-04', 12.50),
    (3, 101, date '2025-01-09', 40.00),
    (4, 103, date '2025-01-11', 7.25)
) as t(order_id, customer_id, ordered_on, amount)
