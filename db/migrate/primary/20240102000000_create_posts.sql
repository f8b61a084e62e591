-- grant:up
CREATE TABLE posts (
  id integer PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users (id),
  title text NOT NULL,
  body text
);
CREATE INDEX posts_user_id ON posts (user_id);

-- grant:down
DROP TABLE posts;
