-- grant:up transaction=false
BEGIN;
CREATE TABLE u (id int);
COMMIT;
-- grant:down transaction=false
DROP TABLE u;
