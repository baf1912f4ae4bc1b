from lorplan.cli import main

raise SystemExit(main())
