CREATE TABLE `components` (
	`service` text NOT NULL,
	`name` text NOT NULL,
	`image` text NOT NULL,
	`version` text DEFAULT '' NOT NULL,
	`spec_hash` text NOT NULL,
	PRIMARY KEY(`service`, `name`),
	FOREIGN KEY (`service`) REFERENCES `services`(`name`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`time` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`service` text DEFAULT '' NOT NULL,
	`component` text DEFAULT '' NOT NULL,
	`kind` text NOT NULL,
	`level` text DEFAULT 'info' NOT NULL,
	`from_state` text DEFAULT '' NOT NULL,
	`to_state` text DEFAULT '' NOT NULL,
	`message` text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE INDEX `events_service_time` ON `events` (`service`,`time`);--> statement-breakpoint
CREATE TABLE `history` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`service` text NOT NULL,
	`version` text DEFAULT '' NOT NULL,
	`spec_json` text NOT NULL,
	`source_toml` text DEFAULT '' NOT NULL,
	`outcome` text NOT NULL,
	`message` text DEFAULT '' NOT NULL,
	`time` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `history_service` ON `history` (`service`,`id`);--> statement-breakpoint
CREATE TABLE `observed_containers` (
	`name` text PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`image` text NOT NULL,
	`state` text NOT NULL,
	`exit_code` integer,
	`health` text DEFAULT '' NOT NULL,
	`service` text DEFAULT '' NOT NULL,
	`component` text DEFAULT '' NOT NULL,
	`version` text DEFAULT '' NOT NULL,
	`last_seen` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `operations` (
	`id` text PRIMARY KEY NOT NULL,
	`service` text NOT NULL,
	`kind` text NOT NULL,
	`step` text DEFAULT '' NOT NULL,
	`status` text NOT NULL,
	`error` text DEFAULT '' NOT NULL,
	`started_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `operations_status` ON `operations` (`status`);--> statement-breakpoint
CREATE TABLE `port_assignments` (
	`host_port` integer PRIMARY KEY NOT NULL,
	`service` text NOT NULL,
	`component` text NOT NULL,
	`route` text NOT NULL,
	`assigned_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `port_assignments_route` ON `port_assignments` (`service`,`component`,`route`);--> statement-breakpoint
CREATE TABLE `services` (
	`name` text PRIMARY KEY NOT NULL,
	`spec_json` text NOT NULL,
	`source_toml` text DEFAULT '' NOT NULL,
	`active` integer NOT NULL,
	`version` text DEFAULT '' NOT NULL,
	`spec_hash` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL,
	`deployed_at` text
);
