CREATE TABLE `edge_routes` (
	`listener` text NOT NULL,
	`hostname` text NOT NULL,
	`backend` text NOT NULL,
	`mode` text NOT NULL,
	`service` text DEFAULT '' NOT NULL,
	`node` text DEFAULT '' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	PRIMARY KEY(`listener`, `hostname`)
);
