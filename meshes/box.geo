// Rectangle [0,Lx] x [0,Ly]. Names: left, right, bottom, top / domain.
SetFactory("OpenCASCADE");
Lx = 1.0;
Ly = 1.0;
h = 0.1;
Rectangle(1) = {0, 0, 0, Lx, Ly};
Physical Curve("bottom") = {1};
Physical Curve("right") = {2};
Physical Curve("top") = {3};
Physical Curve("left") = {4};
Physical Surface("domain") = {1};
Mesh.MeshSizeMax = h;
