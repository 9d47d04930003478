# NixOS module for an MCP node: what `mcp node provision` does on Debian, declaratively.
# The agent itself is NOT managed by Nix: ExecStart is /srv/mcp/mcp-agent, the symlink
# `mcp agent upgrade` swaps, so upgrades work the same on NixOS and Debian. Install the
# first version with `mcp agent upgrade <node>` once this configuration is applied.
#
# Usage (configuration.nix):
#   imports = [ ./mcp-agent.nix ];
#   services.mcp-agent.enable = true;
#   services.mcp-agent.uid = 850;   # pinned: XDG_RUNTIME_DIR=/run/user/<uid> depends on it
#
# Written without a Nix evaluator at hand: review before use (see docs/decisions/0082).
{ config, lib, pkgs, ... }:

let
  cfg = config.services.mcp-agent;
in
{
  options.services.mcp-agent = {
    enable = lib.mkEnableOption "the MCP agent (mcp-agent) and rootless Podman for user mcp";

    uid = lib.mkOption {
      type = lib.types.int;
      default = 850;
      description = "Pinned uid of the mcp user; the unit's XDG_RUNTIME_DIR is /run/user/<uid>.";
    };

    gid = lib.mkOption {
      type = lib.types.int;
      default = 850;
      description = "Pinned gid of the mcp group.";
    };

    nodejs = lib.mkOption {
      type = lib.types.package;
      default = pkgs.nodejs_22;
      description = "Node.js (>= 22) that runs the agent bundle.";
    };

    extraDirs = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ "/srv/mc-proxy" "/srv/mc-proxy/certs" ];
      description = "More directories owned by mcp.";
    };
  };

  config = lib.mkIf cfg.enable {
    users.groups.mcp.gid = cfg.gid;
    users.users.mcp = {
      isSystemUser = true;
      uid = cfg.uid;
      group = "mcp";
      home = "/srv/mcp";
      createHome = true;
      # Rootless Podman needs subordinate ids and a runtime dir that outlives logins.
      subUidRanges = [ { startUid = 100000; count = 65536; } ];
      subGidRanges = [ { startGid = 100000; count = 65536; } ];
      linger = true;
    };

    virtualisation.podman.enable = true;
    virtualisation.containers.containersConf.settings = {
      # runc's per-container session keyrings exhaust kernel.keys.maxkeys near 200 containers.
      containers.keyring = false;
      containers.default_ulimits = [ "nofile=20000:20000" "nproc=4096:4096" ];
    };

    systemd.tmpfiles.rules = [
      "d /srv/mcp 0750 mcp mcp - -"
      "d /srv/mcp/certs 0700 mcp mcp - -"
      "d /srv/mcp/versions 0755 mcp mcp - -"
    ] ++ map (d: "d ${d} 0750 mcp mcp - -") cfg.extraDirs;

    systemd.services.mcp-agent = {
      description = "MCP agent (mcp-agent)";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      # Lessons of the first deployment (bootstrap.md): podman lives in
      # /run/current-system/sw/bin, and the newuidmap wrappers in /run/wrappers/bin.
      path = [ cfg.nodejs "/run/wrappers" "/run/current-system/sw" ];
      environment = {
        XDG_RUNTIME_DIR = "/run/user/${toString cfg.uid}";
        HOME = "/srv/mcp";
        # The agent preloads jemalloc when it can find it (memory back down after a load);
        # Nix keeps it outside the Debian path the agent looks in.
        MCP_AGENT_JEMALLOC = "${pkgs.jemalloc}/lib/libjemalloc.so.2";
      };
      # The launcher finds node on PATH; the agent files are not in the Nix store.
      unitConfig.ConditionPathExists = "/srv/mcp/mcp-agent";
      serviceConfig = {
        Type = "simple";
        User = "mcp";
        Group = "mcp";
        WorkingDirectory = "/srv/mcp";
        ExecStart = "/srv/mcp/mcp-agent server --config /srv/mcp/mcp-agent.toml";
        Restart = "on-failure";
        RestartSec = "2s";
        TimeoutStopSec = "30s";
        # true/strict hide /run/user/<uid>, which rootless Podman needs.
        ProtectHome = false;
        ProtectSystem = "full";
        # newuidmap/newgidmap are setuid wrappers.
        NoNewPrivileges = false;
        LimitNOFILE = 20000;
      };
    };
  };
}
