CREATE TABLE a (x int);
INSERT INTO a VALUES (1), (2);
-- comment;
/* block; /* nested; */ */ SELECT ';' || E'\';' || "a;b";
