// 3D rod along x: cylinder of length L and radius R.
// Physical names match femdiff.geometry.rod: left, right, surface / rod.
SetFactory("OpenCASCADE");
L = 10e-3;   // length [m]
R = 1e-3;    // radius [m]
h = R / 2;   // mesh size [m]
Cylinder(1) = {0, 0, 0, L, 0, 0, R};
// OpenCASCADE numbers the cylinder's faces: 1 lateral, 2 the end at x = L, 3 at x = 0
Physical Surface("left") = {3};
Physical Surface("right") = {2};
Physical Surface("surface") = {1};
Physical Volume("rod") = {1};
Mesh.MeshSizeMax = h;
