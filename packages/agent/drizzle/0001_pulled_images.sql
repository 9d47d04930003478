CREATE TABLE `pulled_images` (
	`image` text PRIMARY KEY NOT NULL,
	`pulled_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
