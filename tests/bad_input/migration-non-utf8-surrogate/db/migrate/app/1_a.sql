-- grant:up
SELECT 'í €';
