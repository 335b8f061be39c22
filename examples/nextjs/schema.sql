-- The example app's own table, next to River's (`npx eddy migrate`): an order and its
-- confirmation job are committed together.
CREATE TABLE IF NOT EXISTS orders (
  id uuid PRIMARY KEY,
  email text NOT NULL,
  total numeric NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
