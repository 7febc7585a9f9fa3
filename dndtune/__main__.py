from dndtune.cli.main import main

raise SystemExit(main())
