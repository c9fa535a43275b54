from qyb.cli import main

raise SystemExit(main())
