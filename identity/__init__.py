"""Who the container's process is: its id maps, its user, its environment.

Machinery beneath stage user_pid and the core's start of the command. Each
module is stdlib only, imports nothing costly at module level, and raises
core.Fail, whose text is one line for the user (the core prints it
after "unc: " and exits 125):

    subids    /etc/subuid and /etc/subgid, and the uid/gid map a run asks
              for: the default one line, --map-auto, --map-users/--map-groups,
              --map-user/--map-group; checked as the kernel and newuidmap
              would check it.
    idmap     writing those maps for the waiting container from the host:
              directly as root, else through newuidmap/newgidmap.
    passwd    -u USER[:GROUP] against the container's /etc/passwd and
              /etc/group, and becoming that user before exec.
    environ   -e, --env-file, --clearenv: the command's environment, and
              HOME and SHELL as they exist inside.
    workdir   -w DIR: checked on the host, created inside.
    facts     what `unc check` says of user namespaces (and the setting
              that refuses them) and subordinate ids; never on a run's path.
"""
