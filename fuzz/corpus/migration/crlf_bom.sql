03_crlf.sql
﻿-- grant:up statement_timeout=2min transaction=false
SELECT 1;
-- grant:down
SELECT 2;
